package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
	"github.com/kmigrate/kmigrate/internal/config"
)

// grace is how long a measured process has to exit after SIGINT when its
// step times out.
const grace = 10 * time.Second

// measureConsume is (a): a bare franz-go consumer reads the whole source
// topic at read_committed, in a child process.
func (b *bench) measureConsume(ctx context.Context) Result {
	r := Result{Name: "consume", Label: "(a) franz-go consume-only", Topic: b.sourceTopic}
	res, err := b.runChild(ctx, &r, "consume", strings.Join(b.src, ","), b.sourceTopic)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.setCheck(b.expected, res.Sums, false)
	r.Detail = fmt.Sprintf("consume loop %.2fs of the process's %.2fs", res.Seconds, r.WallSeconds)
	return r
}

// measureProduce is (b): a bare idempotent franz-go producer writes the
// same records to a fresh target topic, in a child process.
func (b *bench) measureProduce(ctx context.Context) Result {
	topic := b.topic("produce")
	r := Result{Name: "produce", Label: "(b) franz-go produce-only", Topic: topic}
	b.created = append(b.created, topic)
	if err := workload.CreateTopic(ctx, b.tgt, topic, b.spec.Partitions); err != nil {
		r.Err = err.Error()
		return r
	}
	res, err := b.runChild(ctx, &r, "produce", strings.Join(b.tgt, ","), topic)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Detail = fmt.Sprintf("produce loop %.2fs of the process's %.2fs", res.Seconds, r.WallSeconds)
	b.check(ctx, &r)
	return r
}

// measureCopy is (e): a bare franz-go consume-then-produce copy of the
// source topic to a fresh target topic, in one child process: the ceiling
// of a copy on this machine, without transactions, headers or state.
func (b *bench) measureCopy(ctx context.Context) Result {
	topic := b.topic("copy")
	r := Result{Name: "copy", Label: "(e) franz-go consume-then-produce", Topic: topic}
	b.created = append(b.created, topic)
	if err := workload.CreateTopic(ctx, b.tgt, topic, b.spec.Partitions); err != nil {
		r.Err = err.Error()
		return r
	}
	res, err := b.runChild(ctx, &r, "copy", strings.Join(b.src, ",")+"|"+strings.Join(b.tgt, ","), b.sourceTopic, "--copy-to", topic)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Detail = fmt.Sprintf("copy loop %.2fs of the process's %.2fs", res.Seconds, r.WallSeconds)
	b.check(ctx, &r)
	return r
}

// measure runs the measured processes and records their usage, and the
// sandbox's CPU time meanwhile (none on existing clusters), in r.
func (b *bench) measure(r *Result, cmds []*exec.Cmd, pipes ...*os.File) (proc.Group, error) {
	if b.sb == nil {
		g, err := proc.Run(cmds, pipes...)
		r.setUsage(g)
		return g, err
	}
	cpu := b.sb.CPU()
	g, err := proc.Run(cmds, pipes...)
	r.ClusterCPUSeconds = (b.sb.CPU() - cpu).Seconds()
	r.setUsage(g)
	return g, err
}

// runChild measures this binary in --child mode and decodes its result.
func (b *bench) runChild(ctx context.Context, r *Result, mode, bootstrap, topic string, extra ...string) (childResult, error) {
	args := append([]string{"--child", mode,
		"--bootstrap", bootstrap, "--topic", topic,
		"--records", strconv.Itoa(b.spec.Records), "--size", strconv.Itoa(b.spec.Size),
		"--partitions", strconv.Itoa(b.spec.Partitions), "--seed", strconv.FormatUint(b.spec.Seed, 10)}, extra...)
	cmd := proc.Command(ctx, grace, b.self, args...)
	var out bytes.Buffer
	stderr := proc.NewTail(16 << 10)
	cmd.Stdout, cmd.Stderr = &out, stderr
	if _, err := b.measure(r, []*exec.Cmd{cmd}); err != nil {
		return childResult{}, proc.ExitError(err, stderr)
	}
	var res childResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("read the child's result %q: %w", out.String(), err)
	}
	return res, nil
}

// mirrorSummary matches the line `kmigrate mirror` prints at the end.
var mirrorSummary = regexp.MustCompile(`copied (\d+) records .* in (\d+) transactions in (\S+)`)

// mirrorRun is one (c) row: how `kmigrate mirror` runs.
type mirrorRun struct {
	name   string // the row's name, its target topics' prefix
	budget string // --memory-budget; "" keeps the default
	units  int    // --units; 0 leaves it out (one unit)
}

// label names the row the way BENCHMARKS.md shows it.
func (m mirrorRun) label() string {
	l := "(c) kmigrate mirror"
	if m.units == 0 && m.budget == "" {
		l += " (defaults)"
	}
	if m.units > 0 {
		l += fmt.Sprintf(" --units %d", m.units)
	}
	if m.budget != "" {
		l += " --memory-budget " + m.budget
	}
	return l
}

// measureMirror is (c): `kmigrate mirror --until end`, exactly-once with
// tracing headers (the defaults), into a fresh target topic under a fresh
// migration name. A bounded copy runs all its units in one process: the
// units of a continuous mirror are what several processes share.
func (b *bench) measureMirror(ctx context.Context, run mirrorRun) Result {
	r, specFile, err := b.mirrorRow(run.name, run.label(), run.budget)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	args := []string{"mirror", "-f", specFile, "--until", "end", "--progress", "never", "--log-level", "warn"}
	if run.budget != "" {
		args = append(args, "--memory-budget", run.budget)
	}
	if run.units > 0 {
		args = append(args, "--units", strconv.Itoa(run.units))
	}
	args = append(args, strings.Fields(b.o.mirrorArgs)...)
	cmd := proc.Command(ctx, grace, b.bin, args...)
	var out bytes.Buffer
	stderr := proc.NewTail(16 << 10)
	cmd.Stdout, cmd.Stderr = &out, stderr
	if _, err := b.measure(&r, []*exec.Cmd{cmd}); err != nil {
		r.Err = proc.ExitError(err, stderr).Error()
		return r
	}
	if m := mirrorSummary.FindStringSubmatch(out.String()); m != nil {
		r.Detail = fmt.Sprintf("kmigrate reported %s records in %s transactions in %s", m[1], m[2], m[3])
	} else {
		r.Detail = "no summary line in kmigrate's output: " + strings.TrimSpace(out.String())
	}
	b.check(ctx, &r)
	return r
}

// mirrorRow starts the Result of a (c) row called name, under a fresh
// migration of its own (recorded for clean-up) whose spec it writes; budget
// is the --memory-budget ("" for the default).
func (b *bench) mirrorRow(name, label, budget string) (Result, string, error) {
	prefix := name + "."
	r := Result{Name: name, Label: label, Topic: prefix + b.sourceTopic, MemoryBudget: config.DefaultMemoryBudget}
	migration := b.migration(name)
	b.created = append(b.created, r.Topic)
	b.migrations = append(b.migrations, migration)
	if budget != "" {
		n, err := parseMiB(budget)
		if err != nil {
			return r, "", err
		}
		r.MemoryBudget = n
	}
	specFile, err := b.mirrorSpec(name, migration, prefix)
	return r, specFile, err
}

// migration is the name of the migration of the (c) row called name.
func (b *bench) migration(name string) string { return "bench-" + b.runID + "-" + name }

// mirrorSpec writes a spec only to name the migration: each run is a new
// migration, so that none resumes another's checkpoints. JSON is YAML.
func (b *bench) mirrorSpec(name, migration, prefix string) (string, error) {
	spec := map[string]any{
		"version": 1,
		"name":    migration,
		"source":  map[string]any{"bootstrap": b.src},
		"target":  map[string]any{"bootstrap": b.tgt},
		"topics":  map[string]any{"include": []string{regexp.QuoteMeta(b.sourceTopic)}, "prefix": prefix},
	}
	specFile := filepath.Join(b.dir, name+".json")
	data, _ := json.Marshal(spec)
	return specFile, os.WriteFile(specFile, data, 0o644)
}

// measureKcat is (d): one kcat consumer piped into one kcat producer per
// partition, all partitions at once, so that partitions and keys are kept.
func (b *bench) measureKcat(ctx context.Context) Result {
	topic := b.topic("kcat")
	r := Result{Name: "kcat", Label: "(d) kcat -C | kcat -P per partition", Topic: topic}
	b.created = append(b.created, topic)
	if err := workload.CreateTopic(ctx, b.tgt, topic, b.spec.Partitions); err != nil {
		r.Err = err.Error()
		return r
	}
	var (
		cmds    []*exec.Cmd
		pipes   []*os.File
		stderrs []*proc.Tail
	)
	for p := range b.spec.Partitions {
		pr, pw, err := os.Pipe()
		if err != nil {
			for _, f := range pipes {
				f.Close()
			}
			r.Err = err.Error()
			return r
		}
		part := strconv.Itoa(p)
		cons := proc.Command(ctx, grace, b.o.kcat, "-C", "-b", strings.Join(b.src, ","), "-t", b.sourceTopic,
			"-p", part, "-o", "beginning", "-e", "-q", "-f", `%k\t%s\n`)
		prod := proc.Command(ctx, grace, b.o.kcat, "-P", "-b", strings.Join(b.tgt, ","), "-t", topic,
			"-p", part, "-K", "\t")
		cons.Stdout, prod.Stdin = pw, pr
		for _, c := range []*exec.Cmd{cons, prod} {
			t := proc.NewTail(4 << 10)
			c.Stderr = t
			stderrs = append(stderrs, t)
		}
		cmds = append(cmds, cons, prod)
		pipes = append(pipes, pr, pw)
	}
	g, err := b.measure(&r, cmds, pipes...)
	if err != nil {
		for _, t := range stderrs {
			if s := t.String(); s != "" {
				err = fmt.Errorf("%w; a kcat said: %s", err, strings.TrimSpace(s))
				break
			}
		}
		r.Err = err.Error()
		return r
	}
	var maxOne int64
	for _, u := range g.Procs {
		maxOne = max(maxOne, u.MaxRSS)
	}
	r.Detail = fmt.Sprintf("%d processes; peak RSS is the sum of their peaks (largest single process %s MiB)", len(g.Procs), mib(maxOne))
	b.check(ctx, &r)
	return r
}

// check reads the copy in r.Topic back from the target, records what it
// found in r, and deletes the topic so that every measurement writes into
// a target of the same size.
func (b *bench) check(ctx context.Context, r *Result) {
	start := time.Now()
	sums, err := workload.Consume(ctx, b.tgt, r.Topic, true)
	if err != nil {
		r.Err = fmt.Sprintf("check %s: %v", r.Topic, err)
		return
	}
	r.setCheck(b.expected, sums, true)
	logf("checked %s in %.1fs", r.Topic, time.Since(start).Seconds())
	if err := workload.DeleteTopics(ctx, b.tgt, r.Topic); err != nil {
		logf("warning: %v", err)
	}
}

// parseMiB reads sizes like "64MiB" (the only unit the flag needs).
func parseMiB(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSuffix(s, "MiB"), 10, 64)
	if err != nil || !strings.HasSuffix(s, "MiB") || n < 1 {
		return 0, fmt.Errorf("--low-budget %q: give MiB, like 64MiB", s)
	}
	return n << 20, nil
}
