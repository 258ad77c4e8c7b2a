package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
	"github.com/kmigrate/kmigrate/internal/state"
)

// sandboxTopic is the seeded topic on a sandbox; the mirror copies it
// under the same name. On existing clusters it gets the run's prefix.
const sandboxTopic = "bench.source"

// grace is how long a measured process has to exit after SIGINT when its
// step times out.
const grace = 10 * time.Second

type bench struct {
	o        options
	self     string
	bin      string
	dir      string
	specFile string
	spec     *workload.Spec
	sb       *proc.Sandbox // nil on existing clusters

	src, tgt          []string // bootstrap servers
	sourceTopic, name string   // the seeded topic (and its copy), the migration
}

func run(ctx context.Context, o options) (err error) {
	begin := time.Now()
	rep := &Report{Started: begin, Brokers: o.brokers, Parallel: o.parallel, Host: runinfo.ThisHost(), Clusters: "kmigrate sandbox"}
	external := o.source != ""
	if external {
		rep.Brokers = 0
		rep.Clusters = "source " + o.source + ", target " + o.target
	}
	root, err := runinfo.ModuleRoot()
	if err != nil {
		return err
	}
	if o.resultsDir == "" {
		o.resultsDir = filepath.Join(root, "bench", "results")
	}
	if rep.Workload, err = workload.NewSpec(o.records, o.size, o.partitions, o.seed); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, dropDir, err := runinfo.WorkDir(o.workDir, "verifybench-", o.keep)
	if err != nil {
		return err
	}
	defer dropDir(&err)
	// The source and one copy; kfake stores a little more than the
	// record bytes.
	if !external {
		if err := runinfo.CheckDisk(dir, 2*rep.Workload.Bytes()+(1<<30), "use fewer --records"); err != nil {
			return err
		}
	}
	b := &bench{o: o, self: self, dir: dir, spec: rep.Workload, sourceTopic: sandboxTopic, name: "verifybench"}
	if external {
		runID := begin.UTC().Format("20060102t150405")
		b.sourceTopic, b.name = "bench-"+runID+".source", "verifybench-"+runID
		b.src, b.tgt = splitList(o.source), splitList(o.target)
		if len(b.src) == 0 || len(b.tgt) == 0 {
			return fmt.Errorf("--source %q, --target %q: give host:port, comma-separated", o.source, o.target)
		}
	}
	logf("building kmigrate from %s", root)
	if b.bin, rep.Host.Kmigrate, err = runinfo.BuildKmigrate(ctx, root, dir); err != nil {
		return err
	}
	if rep.SourceDigest, err = runinfo.SourceDigest(root); err != nil {
		return err
	}
	stopped := false
	stopSandbox := func() error {
		if stopped || b.sb == nil {
			return nil
		}
		stopped = true
		u, err := b.sb.Stop(time.Minute)
		rep.SandboxMaxRSS, rep.SandboxCPUSeconds = u.MaxRSS, u.CPU.Seconds()
		return err
	}
	if external {
		logf("using existing clusters: source %s, target %s; topic %s, migration %s", o.source, o.target, b.sourceTopic, b.name)
		// Remove what the run created, whatever happened; the context may
		// be done already (Ctrl-C), so cleaning up gets its own.
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			err = errors.Join(err, b.cleanup(cctx))
		}()
	} else {
		logf("starting kmigrate sandbox (%d broker(s) per cluster) in %s", o.brokers, dir)
		if b.sb, err = proc.StartSandbox(ctx, b.bin, filepath.Join(dir, "sandbox"), o.brokers); err != nil {
			return err
		}
		b.src, b.tgt = b.sb.Source, b.sb.Target
		defer func() { err = errors.Join(err, stopSandbox()) }()
	}

	t0 := time.Now()
	if err := b.seed(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	rep.SeedSeconds = time.Since(t0).Seconds()
	logf("seeded %d records (%.0f MB) in %.1fs", b.spec.Records, float64(b.spec.Bytes())/1e6, rep.SeedSeconds)
	t0 = time.Now()
	if rep.MirrorDetail, err = b.mirror(ctx); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	rep.MirrorSeconds = time.Since(t0).Seconds()
	logf("mirrored in %.1fs: %s", rep.MirrorSeconds, rep.MirrorDetail)

	steps := []func(context.Context) Result{
		func(ctx context.Context) Result {
			return b.consume(ctx, "consume-source", "(a) franz-go consume, source", "consume", b.src, nil)
		},
		func(ctx context.Context) Result {
			return b.consume(ctx, "consume-target", "(b) franz-go consume, target", "consume", b.tgt, nil)
		},
		func(ctx context.Context) Result {
			return b.consume(ctx, "consume-both", "(c) franz-go consume, both at once", "consume-both", b.src, b.tgt)
		},
		func(ctx context.Context) Result { return b.verify(ctx, "verify", 0) },
	}
	if o.sample > 0 {
		steps = append(steps, func(ctx context.Context) Result { return b.verify(ctx, "verify-sample", o.sample) })
	}
	for _, step := range steps {
		sctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
		r := step(sctx)
		cancel()
		rep.Results = append(rep.Results, r)
		logf("%s: %.2fs, peak RSS %s MiB; %s%s", r.Label, r.WallSeconds, mib(r.MaxRSS), r.Check, errSuffix(r.Err))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	stopErr := stopSandbox()
	rep.TotalSeconds = time.Since(begin).Seconds()
	rep.compute()
	rep.printTable(os.Stdout)
	path, err := rep.writeJSON(o.resultsDir)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Printf("results written to %s\n", path)
	if stopErr != nil {
		return stopErr
	}
	for _, r := range rep.Results {
		if !r.ok() {
			return fmt.Errorf("%s did not pass: %s%s", r.Label, r.Check, errSuffix(r.Err))
		}
	}
	return nil
}

func (b *bench) seed(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.o.stepTimeout)
	defer cancel()
	if err := workload.CreateTopic(ctx, b.src, b.sourceTopic, b.spec.Partitions); err != nil {
		return err
	}
	cl, err := kgo.NewClient(workload.ProducerOpts(b.src)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return workload.Produce(ctx, cl, b.sourceTopic, b.spec)
}

// cleanup deletes, on existing clusters, the source topic, its copy and
// the migration's state topic.
func (b *bench) cleanup(ctx context.Context) error {
	var errs []error
	if err := workload.DeleteTopics(ctx, b.src, b.sourceTopic); err != nil {
		errs = append(errs, fmt.Errorf("source: %w", err))
	}
	if err := workload.DeleteTopics(ctx, b.tgt, b.sourceTopic, state.TopicName(b.name)); err != nil {
		errs = append(errs, fmt.Errorf("target: %w", err))
	}
	if len(errs) == 0 {
		logf("deleted the run's topics: %s on both clusters, %s on the target", b.sourceTopic, state.TopicName(b.name))
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

var mirrorSummary = regexp.MustCompile(`copied (\d+) records .* in (\d+) transactions`)

// mirror copies the topic with `kmigrate mirror --until end` (defaults:
// exactly-once, tracing headers) under a spec that verify reads too.
func (b *bench) mirror(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.stepTimeout)
	defer cancel()
	spec := map[string]any{
		"version": 1,
		"name":    b.name,
		"source":  map[string]any{"bootstrap": b.src},
		"target":  map[string]any{"bootstrap": b.tgt},
		"topics":  map[string]any{"include": []string{regexp.QuoteMeta(b.sourceTopic)}},
	}
	b.specFile = filepath.Join(b.dir, "spec.json")
	data, _ := json.Marshal(spec) // JSON is YAML
	if err := os.WriteFile(b.specFile, data, 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, b.bin, "mirror", "-f", b.specFile, "--until", "end", "--progress", "never", "--log-level", "warn")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	if m := mirrorSummary.FindStringSubmatch(string(out)); m != nil {
		return fmt.Sprintf("%s records in %s transactions", m[1], m[2]), nil
	}
	return strings.TrimSpace(string(out)), nil
}

// measure runs the measured processes and records their usage, and the
// clusters' CPU time meanwhile, in r.
func (b *bench) measure(r *Result, cmds ...*exec.Cmd) error {
	if b.sb == nil { // existing clusters: their CPU is not ours to read
		g, err := proc.Run(cmds)
		r.WallSeconds, r.MaxRSS, r.CPUSeconds = g.Wall.Seconds(), g.MaxRSSSum(), g.CPU().Seconds()
		return err
	}
	cpu := b.sb.CPU()
	g, err := proc.Run(cmds)
	r.ClusterCPUSeconds = (b.sb.CPU() - cpu).Seconds()
	r.WallSeconds = g.Wall.Seconds()
	r.MaxRSS = g.MaxRSSSum()
	r.CPUSeconds = g.CPU().Seconds()
	return err
}

// consume measures this binary in --child mode reading the topic from one
// cluster, or both at once.
func (b *bench) consume(ctx context.Context, name, label, mode string, source, target []string) Result {
	r := Result{Name: name, Label: label}
	args := []string{"--child", mode, "--topic", b.sourceTopic, "--source", strings.Join(source, ",")}
	if target != nil {
		args = append(args, "--target", strings.Join(target, ","))
	}
	cmd := proc.Command(ctx, grace, b.self, args...)
	var out bytes.Buffer
	stderr := proc.NewTail(16 << 10)
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := b.measure(&r, cmd); err != nil {
		r.Err = proc.ExitError(err, stderr).Error()
		return r
	}
	var res childResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		r.Err = fmt.Sprintf("read the child's result %q: %v", out.String(), err)
		return r
	}
	r.Records, r.WorkSeconds = res.Records, res.Seconds
	want := int64(b.spec.Records)
	if target != nil {
		want *= 2
	}
	r.Check = "ok: every record read"
	if r.Records != want {
		r.Check = fmt.Sprintf("FAILED: read %d records, want %d", r.Records, want)
	}
	return r
}

// verifyJSON is what the harness reads of `kmigrate verify --output json`.
type verifyJSON struct {
	OK      bool    `json:"ok"`
	Seconds float64 `json:"seconds"`
	Totals  struct {
		SourceRecords  int64 `json:"source_records"`
		Matched        int64 `json:"matched"`
		Problems       int64 `json:"problems"`
		BytesRead      int64 `json:"bytes_read"`
		Fetches        int64 `json:"fetches"`
		RecordsRead    int64 `json:"records_read"`
		SampledRecords int64 `json:"sampled_records"`
	} `json:"totals"`
}

// verify measures `kmigrate verify` (sample 0: full mode).
func (b *bench) verify(ctx context.Context, name string, sample int) Result {
	label := fmt.Sprintf("(d) kmigrate verify --parallel %d", b.o.parallel)
	args := []string{"verify", "-f", b.specFile, "--output", "json", "--log-level", "warn", "--parallel", strconv.Itoa(b.o.parallel)}
	if sample > 0 {
		label = fmt.Sprintf("(e) kmigrate verify --sample %d", sample)
		args = append(args, "--sample", strconv.Itoa(sample))
	}
	r := Result{Name: name, Label: label}
	cmd := proc.Command(ctx, grace, b.bin, args...)
	var out bytes.Buffer
	stderr := proc.NewTail(16 << 10)
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := b.measure(&r, cmd); err != nil {
		r.Err = proc.ExitError(err, stderr).Error()
		return r
	}
	var v verifyJSON
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		r.Err = fmt.Sprintf("read verify's JSON: %v", err)
		return r
	}
	t := v.Totals
	r.Records, r.WorkSeconds = t.RecordsRead, v.Seconds
	r.Detail = fmt.Sprintf("verify reported %.2fs; %d source records, %d matched, %d sampled, %d problems; %d fetches, %.0f MB of record batches read",
		v.Seconds, t.SourceRecords, t.Matched, t.SampledRecords, t.Problems, t.Fetches, float64(t.BytesRead)/1e6)
	want := int64(b.spec.Records)
	switch {
	case !v.OK || t.Problems != 0:
		r.Check = "FAILED: verify found problems in a correct copy"
	case sample == 0 && (t.SourceRecords != want || t.Matched != want):
		r.Check = fmt.Sprintf("FAILED: %d of %d records matched", t.Matched, want)
	case sample > 0 && t.SampledRecords != int64(min(sample*b.spec.Partitions, b.spec.Records)):
		r.Check = fmt.Sprintf("FAILED: %d records sampled", t.SampledRecords)
	default:
		r.Check = "ok: the copy verified"
	}
	return r
}

// childResult is what a --child run prints.
type childResult struct {
	Records int64   `json:"records"`
	Seconds float64 `json:"seconds"`
}

// runChild runs one franz-go baseline in this process, measured from
// outside: a read_committed consumer of the topic on one cluster, or on
// both at once.
func runChild(ctx context.Context, o options) error {
	if o.source == "" || o.topic == "" {
		return errors.New("--child needs --source and --topic")
	}
	clusters := [][]string{strings.Split(o.source, ",")}
	switch o.child {
	case "consume":
	case "consume-both":
		if o.target == "" {
			return errors.New("--child consume-both needs --target")
		}
		clusters = append(clusters, strings.Split(o.target, ","))
	default:
		return fmt.Errorf("--child %q: use consume or consume-both", o.child)
	}
	start := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		res  childResult
		errs []error
	)
	for _, c := range clusters {
		wg.Go(func() {
			sums, err := workload.Consume(ctx, c, o.topic, false)
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
			for _, s := range sums {
				res.Records += s.Records
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	res.Seconds = time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(res)
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return "; error: " + s
}

func logf(format string, args ...any) { runinfo.Logf(format, args...) }
