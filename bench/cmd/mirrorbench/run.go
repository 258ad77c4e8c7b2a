package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/bench/internal/realpair"
	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
	"github.com/kmigrate/kmigrate/internal/state"
)

// topicPrefix starts the name of every topic a run creates on a sandbox;
// on existing clusters (--source, --target) the names also carry the run
// id, so that runs never meet each other's topics.
const topicPrefix = "bench."

// bench is one run's shared state.
type bench struct {
	o        options
	self     string // this binary, re-executed for the baselines
	bin      string // the kmigrate binary built for this run
	dir      string // the run's data directory
	runID    string
	spec     *workload.Spec
	expected []workload.Sum
	sb       *proc.Sandbox // nil on existing clusters
	// src and tgt are the clusters' bootstrap servers.
	src, tgt []string
	// prefix starts every topic name of the run; sourceTopic is the
	// seeded topic; each measurement writes its own target topic.
	prefix, sourceTopic string
	// created lists the target topics and migrations of the run, deleted
	// at the end on existing clusters.
	created, migrations []string
}

// topic returns the name of the run's topic called name.
func (b *bench) topic(name string) string { return b.prefix + name }

func run(ctx context.Context, o options) (err error) {
	begin := time.Now()
	rep := &Report{Started: begin, Brokers: o.brokers, Host: runinfo.ThisHost(), Clusters: sandboxClusters}
	external := o.source != ""
	switch {
	case external:
		rep.Brokers = 0
		rep.Clusters = "source " + o.source + ", target " + o.target
	case o.real:
		rep.Clusters = fmt.Sprintf("Kafka %s, %d broker(s) per cluster (KRaft combined nodes), JVM %v, started by internal/kafkatest/realkafka",
			o.kafka, o.brokers, realpair.BenchJVMOpts)
	}
	root, err := runinfo.ModuleRoot()
	if err != nil {
		return err
	}
	if o.resultsDir == "" {
		o.resultsDir = filepath.Join(root, "bench", "results")
	}
	spec, err := workload.NewSpec(o.records, o.size, o.partitions, o.seed)
	if err != nil {
		return err
	}
	rep.Workload = spec
	if !o.skipKcat {
		if rep.Host.Kcat, err = kcatVersion(o.kcat); err != nil {
			return fmt.Errorf("%w (install it with `apt-get install -y kcat`, or pass --skip-kcat)", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, dropDir, err := runinfo.WorkDir(o.workDir, "mirrorbench-", o.keep)
	if err != nil {
		return err
	}
	defer dropDir(&err)
	// The source, the target copy being checked, and the next one; kfake
	// stores a little more than the record bytes. Existing clusters keep
	// their data elsewhere.
	// Real Kafka keeps a copy per replica, and a deleted topic's files
	// for a minute.
	need := 3 * spec.Bytes()
	if o.real {
		need *= int64(min(o.brokers, 3))
	}
	if !external {
		if err := runinfo.CheckDisk(dir, need+(1<<30), "use fewer --records"); err != nil {
			return err
		}
	}
	b := &bench{o: o, self: self, dir: dir, spec: spec, runID: begin.UTC().Format("20060102t150405"), prefix: topicPrefix}
	if external {
		b.prefix = "bench-" + b.runID + "."
		b.src, b.tgt = splitList(o.source), splitList(o.target)
		if len(b.src) == 0 || len(b.tgt) == 0 {
			return fmt.Errorf("--source %q, --target %q: give host:port, comma-separated", o.source, o.target)
		}
	}
	b.sourceTopic = b.topic("source")

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
		rep.SandboxMaxRSS, rep.SandboxCPUSeconds, rep.SandboxWall = u.MaxRSS, u.CPU.Seconds(), u.Wall.Seconds()
		return err
	}
	if external {
		logf("using existing clusters: source %s, target %s; topics %s*", o.source, o.target, b.prefix)
		// Remove what the run created, whatever happened; the context may
		// be done already (Ctrl-C), so cleaning up gets its own.
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			err = errors.Join(err, b.cleanup(cctx))
		}()
	} else if o.real {
		logf("starting two Kafka %s clusters (%d broker(s) each) in %s", o.kafka, o.brokers, dir)
		pair, err := realpair.Start(ctx, realpair.Config{
			Version: o.kafka, Dir: filepath.Join(dir, "kafka"), SourceBrokers: o.brokers, TargetBrokers: o.brokers,
			SourceJVMOpts: realpair.BenchJVMOpts, TargetJVMOpts: realpair.BenchJVMOpts,
		})
		if err != nil {
			return err
		}
		defer pair.Stop()
		b.src, b.tgt = pair.Source, pair.Target
		logf("source %s, target %s", strings.Join(b.src, ","), strings.Join(b.tgt, ","))
	} else {
		logf("starting kmigrate sandbox (%d broker(s) per cluster) in %s", o.brokers, dir)
		b.sb, err = proc.StartSandbox(ctx, b.bin, filepath.Join(dir, "sandbox"), o.brokers)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stopSandbox()) }()
		b.src, b.tgt = b.sb.Source, b.sb.Target
		logf("source %s, target %s", strings.Join(b.src, ","), strings.Join(b.tgt, ","))
	}

	seedStart := time.Now()
	if err := b.seed(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	rep.SeedSeconds = time.Since(seedStart).Seconds()
	logf("seeded %d records (%.0f MB) in %.1fs", spec.Records, float64(spec.Bytes())/1e6, rep.SeedSeconds)
	b.expected = spec.Expected()

	steps := []func(context.Context) Result{
		b.measureConsume,
		b.measureProduce,
		b.measureCopy,
		func(ctx context.Context) Result { return b.measureMirror(ctx, mirrorRun{name: "mirror"}) },
	}
	if o.lowBudget != "off" {
		steps = append(steps, func(ctx context.Context) Result {
			return b.measureMirror(ctx, mirrorRun{name: "mirror-low", budget: o.lowBudget})
		})
	}
	for _, n := range o.unitRows {
		steps = append(steps, func(ctx context.Context) Result {
			return b.measureMirror(ctx, mirrorRun{name: fmt.Sprintf("mirror-units%d", n), units: n})
		})
	}
	if o.processes > 0 {
		for _, n := range []int{1, o.processes} {
			steps = append(steps, func(ctx context.Context) Result {
				return b.measureContinuous(ctx, continuousRun{processes: n, units: o.processUnits})
			})
		}
	}
	if !o.skipKcat {
		steps = append(steps, b.measureKcat)
	}
	for _, step := range steps {
		sctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
		r := step(sctx)
		cancel()
		rep.Results = append(rep.Results, r)
		logf("%s: %d records in %.2fs, %.0f records/s, %.1f MB/s, peak RSS %s MiB; %s%s",
			r.Label, r.Records, r.WallSeconds, r.RecordsPerSec, r.MBPerSec, mib(r.MaxRSS), r.Check, errSuffix(r.Err))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	stopErr := stopSandbox()
	rep.TotalSeconds = time.Since(begin).Seconds()
	rep.computeRatio()
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

// seed creates the source topic and writes the workload into it, with the
// same franz-go producer as the produce-only baseline.
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

// cleanup deletes, on existing clusters, the source topic, every target
// topic the run created (the checks delete those that got that far) and the
// state topics of its migrations.
func (b *bench) cleanup(ctx context.Context) error {
	var errs []error
	if err := workload.DeleteTopics(ctx, b.src, b.sourceTopic); err != nil {
		errs = append(errs, fmt.Errorf("source: %w", err))
	}
	topics := append([]string(nil), b.created...)
	for _, m := range b.migrations {
		topics = append(topics, state.TopicName(m))
	}
	if len(topics) > 0 {
		if err := workload.DeleteTopics(ctx, b.tgt, topics...); err != nil {
			errs = append(errs, fmt.Errorf("target: %w", err))
		}
	}
	if len(errs) == 0 {
		logf("deleted the run's topics: %s on the source, %s on the target", b.sourceTopic, strings.Join(topics, ", "))
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

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return "; error: " + s
}

func logf(format string, args ...any) { runinfo.Logf(format, args...) }

func kcatVersion(kcat string) (string, error) {
	path, err := exec.LookPath(kcat)
	if err != nil {
		return "", fmt.Errorf("kcat not found: %w", err)
	}
	out, _ := exec.Command(path, "-V").CombinedOutput()
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(strings.ToLower(line), "version") {
			return strings.TrimSpace(line), nil
		}
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), nil
}
