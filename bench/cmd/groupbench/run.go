package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
	"github.com/kmigrate/kmigrate/internal/state"
)

// grace is how long a measured process has to exit after SIGINT when the
// run is cancelled.
const grace = 10 * time.Second

// runner runs one method and returns what it measured and, when it ran in
// a child process, that process's usage (nil in process).
type runner func(ctx context.Context, method string, concurrency int) (*Measured, *proc.Group, float64, error)

func run(ctx context.Context, o options) (err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	begin := time.Now()
	rep := &Report{Started: begin, Host: runinfo.ThisHost(), Shape: o.shape, Brokers: o.brokers}
	root, err := runinfo.ModuleRoot()
	if err != nil {
		return err
	}
	if o.out == "" {
		o.out = filepath.Join(root, "bench", "results")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, dropDir, err := runinfo.WorkDir(o.workDir, "groupbench-", o.keep)
	if err != nil {
		return err
	}
	defer dropDir(&err)
	external := o.source != ""
	if !external {
		if err := runinfo.CheckDisk(dir, diskNeed(o.shape), "use fewer --partitions or --records"); err != nil {
			return err
		}
	}
	logf("building kmigrate from %s", root)
	bin, version, err := runinfo.BuildKmigrate(ctx, root, dir)
	if err != nil {
		return err
	}
	rep.Host.Kmigrate = version
	if rep.SourceDigest, err = runinfo.SourceDigest(root); err != nil {
		return err
	}

	var sb *proc.Sandbox
	stopped := false
	stopSandbox := func() error {
		if stopped || sb == nil {
			return nil
		}
		stopped = true
		u, err := sb.Stop(time.Minute)
		rep.SandboxMaxRSS, rep.SandboxCPUSeconds, rep.SandboxWall = u.MaxRSS, u.CPU.Seconds(), u.Wall.Seconds()
		return err
	}
	sbDir := filepath.Join(dir, "sandbox")
	var src, tgt []string
	prefix := ""
	if external {
		rep.Brokers, rep.Clusters = 0, "source "+o.source+", target "+o.target
		src, tgt = splitList(o.source), splitList(o.target)
		if len(src) == 0 || len(tgt) == 0 {
			return fmt.Errorf("--source %q, --target %q: give host:port, comma-separated", o.source, o.target)
		}
		prefix = "groupbench-" + begin.UTC().Format("20060102t150405") + "."
		setNames(prefix)
		logf("using existing clusters: source %s, target %s; names %s*", o.source, o.target, prefix)
		// Remove what the run created, whatever happened; the context may
		// be done already, so cleaning up gets its own.
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			err = errors.Join(err, cleanup(cctx, src, tgt))
		}()
	} else {
		logf("starting kmigrate sandbox (%d broker(s) per cluster) in %s", o.brokers, dir)
		if sb, err = proc.StartSandbox(ctx, bin, sbDir, o.brokers); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stopSandbox()) }()
		src, tgt = sb.Source, sb.Target
	}
	logf("source %s, target %s", strings.Join(src, ","), strings.Join(tgt, ","))

	c, err := newClusters(ctx, src, tgt)
	if err != nil {
		return err
	}
	in, err := prepare(ctx, c, o.shape, &rep.Setup)
	if err != nil {
		return err
	}
	in.Prefix = prefix
	inputs := filepath.Join(dir, "inputs.json")
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if err := os.WriteFile(inputs, data, 0o644); err != nil {
		return err
	}

	measureAll(ctx, childRunner(self, inputs, sb), in, o, rep)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	stopErr := stopSandbox()
	if !external {
		rep.Setup.DataDirBytes = dirSize(sbDir)
	}
	rep.TotalSeconds = time.Since(begin).Seconds()
	rep.printTable(os.Stdout)
	path, err := rep.writeJSON(o.out)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Printf("results written to %s\n", path)
	if stopErr != nil {
		return stopErr
	}
	if len(rep.Failures) > 0 {
		return fmt.Errorf("FAILED: %s", strings.Join(rep.Failures, "; "))
	}
	return nil
}

// diskNeed estimates the bytes the clusters write: each source record is
// its key and value plus about 10 bytes of framing; its copy adds the
// tracing header (about 60 bytes with the topic name). Half as much again
// for indexes, the state topic and slack, and a GiB to spare.
func diskNeed(s Shape) int64 {
	n := int64(s.Partitions) * int64(s.Records)
	rec := int64(workload.KeyLen + s.Size + 10)
	return (n*rec+n*(rec+60))*3/2 + (1 << 30)
}

// prepare makes the data: topics, seed, copy, group, and reads back what
// the measurements need.
func prepare(ctx context.Context, c Clusters, s Shape, setup *Setup) (*Inputs, error) {
	start := time.Now()
	if err := createTopics(ctx, c, s); err != nil {
		return nil, err
	}
	setup.CreateSeconds = time.Since(start).Seconds()

	start = time.Now()
	var err error
	if setup.SeedRecords, setup.SeedBytes, err = seed(ctx, c, s); err != nil {
		return nil, err
	}
	setup.SeedSeconds = time.Since(start).Seconds()
	setup.SeedMaxRSS = selfHWM()
	logf("seeded %d partitions x %d records (%.0f MB of keys and values) in %.1fs",
		s.Partitions, s.Records, float64(setup.SeedBytes)/1e6, setup.SeedSeconds)

	start = time.Now()
	setup.Copy = "kmigrate mirror engine (internal/mirror), exactly-once, tracing headers, until end, default memory budget"
	st, err := copyTopic(ctx, c)
	if err != nil {
		return nil, err
	}
	setup.CopySeconds = time.Since(start).Seconds()
	setup.HarnessMaxRSS = selfHWM()
	setup.CopiedRecords, setup.Transactions = st.Records, st.Transactions
	logf("copied %d records in %d transactions in %.1fs", st.Records, st.Transactions, setup.CopySeconds)
	if st.Records != setup.SeedRecords {
		return nil, fmt.Errorf("the mirror copied %d records, want %d", st.Records, setup.SeedRecords)
	}

	start = time.Now()
	committed, err := commitGroup(ctx, c, s)
	if err != nil {
		return nil, err
	}
	setup.CommitSeconds = time.Since(start).Seconds()

	start = time.Now()
	in, err := inspect(ctx, c, s, committed, setup)
	if err != nil {
		return nil, err
	}
	setup.InspectSeconds = time.Since(start).Seconds()
	logf("state topic: %d records (%d offset map runs, %.1f MB), %d transaction markers; target partitions hold %d offsets",
		setup.StateRecords, setup.OffsetMapRuns, float64(setup.StateBytes)/1e6, setup.StateMarkers, setup.TargetOffsets)
	return in, nil
}

// measureAll measures the methods with r, checks their answers and
// records everything in rep.
func measureAll(ctx context.Context, r runner, in *Inputs, o options, rep *Report) {
	type step struct {
		name, label string
		method      string
		concurrency int
	}
	steps := []step{
		{"map", "(a) map: state.Load + FromSnapshot + Translate", "map", 0},
		{"search", fmt.Sprintf("(b) search, %d at once", o.concurrency), "search", o.concurrency},
	}
	if o.sequential && o.concurrency != 1 {
		steps = append(steps, step{"search-sequential", "(b) search, one at a time", "search", 1})
	}
	steps = append(steps, step{"migrate", "(d) groups.Migrate, dry run", "migrate", 0})
	var mapResults []Translation
	for _, st := range steps {
		logf("measuring %s", st.label)
		m, g, clusterCPU, err := r(ctx, st.method, st.concurrency)
		res := Method{Name: st.name, Label: st.label, ClusterCPUSeconds: clusterCPU}
		if g != nil {
			res.ProcessSeconds, res.CPUSeconds, res.MaxRSS = g.Wall.Seconds(), g.CPU().Seconds(), g.MaxRSSSum()
		}
		if err != nil {
			res.Err = err.Error()
			rep.Methods = append(rep.Methods, res)
			rep.fail("%s: %v", st.label, err)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		res.Measured = *m
		res.RequestsPerPartition = map[string]float64{}
		for k, n := range m.Requests {
			res.RequestsPerPartition[k] = float64(n) / float64(len(in.Partitions))
		}
		var problems []string
		if d := expectKinds(in, m.Results, o.shape.Records); d != "" {
			problems = append(problems, d)
		}
		if st.method == "search" {
			fst := fetchStats(in, m.Results)
			res.Fetches = &fst
			if fst.OverBound > 0 {
				problems = append(problems, fmt.Sprintf("%d partitions used more fetches than 2*ceil(log2 n)+4", fst.OverBound))
			}
		}
		switch {
		case st.method == "map":
			mapResults = m.Results
		case mapResults == nil:
			problems = append(problems, "no map results to compare with")
		default:
			if d := compare(mapResults, m.Results); d != "" {
				problems = append(problems, "differs from the map: "+d)
			}
		}
		res.Results = nil
		if len(problems) == 0 {
			res.Check = "ok"
			if st.method != "map" {
				res.Check = "ok: equals the map in every partition"
			}
		} else {
			res.Check = "FAILED: " + strings.Join(problems, "; ")
			rep.fail("%s: %s", st.label, strings.Join(problems, "; "))
		}
		logf("%s: %.3fs; %s", st.label, m.Seconds, res.Check)
		rep.Methods = append(rep.Methods, res)
	}
	if mapResults == nil {
		return
	}
	start := time.Now()
	v, err := verify(ctx, in, mapResults)
	rep.VerifySeconds = time.Since(start).Seconds()
	switch {
	case err != nil:
		rep.Verify = "ERROR: " + err.Error()
		rep.fail("verify: %v", err)
	case v.problem != "":
		rep.Verify = "FAILED: " + v.problem
		rep.fail("verify: %s", v.problem)
	default:
		rep.Verify = fmt.Sprintf("ok: %d partitions' translated offsets hold the copy of the committed source offset, %d are at the end of the mirrored data", v.exact, v.end)
	}
	logf("verify: %s", rep.Verify)
}

// childRunner runs each method in a child process (this binary with
// --child), so that its peak RSS and CPU time are its own.
func childRunner(self, inputs string, sb *proc.Sandbox) runner {
	return func(ctx context.Context, method string, concurrency int) (*Measured, *proc.Group, float64, error) {
		cmd := proc.Command(ctx, grace, self, "--child", method, "--inputs", inputs, "--concurrency", strconv.Itoa(max(1, concurrency)))
		var out bytes.Buffer
		stderr := proc.NewTail(16 << 10)
		cmd.Stdout, cmd.Stderr = &out, stderr
		var cpu time.Duration
		if sb != nil { // existing clusters: their CPU is not ours to read
			cpu = sb.CPU()
		}
		g, err := proc.Run([]*exec.Cmd{cmd})
		clusterCPU := 0.0
		if sb != nil {
			clusterCPU = (sb.CPU() - cpu).Seconds()
		}
		if err != nil {
			return nil, &g, clusterCPU, proc.ExitError(err, stderr)
		}
		var m Measured
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			return nil, &g, clusterCPU, fmt.Errorf("read the child's result %.200q: %w", out.String(), err)
		}
		return &m, &g, clusterCPU, nil
	}
}

// inProcess runs each method in this process (for the test).
func inProcess(in *Inputs) runner {
	return func(ctx context.Context, method string, concurrency int) (*Measured, *proc.Group, float64, error) {
		m, err := runMethod(ctx, in, method, concurrency)
		return m, nil, 0, err
	}
}

func runMethod(ctx context.Context, in *Inputs, method string, concurrency int) (*Measured, error) {
	switch method {
	case "map":
		return mapMethod(ctx, in)
	case "search":
		return searchMethod(ctx, in, concurrency)
	case "migrate":
		return migrateMethod(ctx, in)
	}
	return nil, fmt.Errorf("--child %q: use map, search or migrate", method)
}

// runChild runs one method in this process and prints what it measured.
func runChild(ctx context.Context, o options) error {
	data, err := os.ReadFile(o.inputs)
	if err != nil {
		return fmt.Errorf("--child needs --inputs: %w", err)
	}
	var in Inputs
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("read %s: %w", o.inputs, err)
	}
	if in.Prefix != "" {
		setNames(in.Prefix)
	}
	m, err := runMethod(ctx, &in, o.child, o.concurrency)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(m)
}

// selfHWM is this process's peak resident memory in bytes (VmHWM), 0
// where /proc is not available.
func selfHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kib * 1024
			}
		}
	}
	return 0
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func logf(format string, args ...any) { runinfo.Logf(format, args...) }

// cleanup deletes, on existing clusters, the run's topic (both clusters),
// the migration's state topic (target) and the group (source).
func cleanup(ctx context.Context, src, tgt []string) error {
	var errs []error
	if err := workload.DeleteTopics(ctx, src, topic); err != nil {
		errs = append(errs, fmt.Errorf("source: %w", err))
	}
	if err := workload.DeleteTopics(ctx, tgt, topic, state.TopicName(migration)); err != nil {
		errs = append(errs, fmt.Errorf("target: %w", err))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(src...))
	if err == nil {
		_, err = kadm.NewClient(cl).DeleteGroup(ctx, group)
		cl.Close()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("source: delete group %s: %w", group, err))
	}
	if len(errs) == 0 {
		logf("deleted the run's topics and group: %s, %s, %s", topic, state.TopicName(migration), group)
	}
	return errors.Join(errs...)
}

// splitList splits comma-separated bootstrap servers.
func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
