package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/internal/state"
)

// A continuous mirror never exits by itself, so the harness watches the
// target: every pollEvery it lists the copy's end offsets, and once they
// could hold every record it reads the migration's state, as `kmigrate
// status` does, until the checkpoints cover the source.
const (
	pollEvery = 100 * time.Millisecond
	// stopGrace is how long the processes have to commit and exit after
	// SIGTERM before they are killed.
	stopGrace = time.Minute
)

// continuousRun is a (c) row of continuous mirrors sharing one migration.
type continuousRun struct {
	processes, units int
}

func (c continuousRun) name() string { return fmt.Sprintf("mirror-cont%dx%d", c.processes, c.units) }

func (c continuousRun) label() string {
	p := "process"
	if c.processes > 1 {
		p = "processes"
	}
	return fmt.Sprintf("(c) kmigrate mirror --units %d, continuous, %d %s", c.units, c.processes, p)
}

// measureContinuous starts run.processes continuous `kmigrate mirror
// --units N` processes on one migration (the same spec) at once, measures
// from the first start until the migration's checkpoints cover the whole
// source, then stops them all with SIGTERM. Wall and CPU time stop at that
// moment (CPU read from /proc); peak RSS is each process's whole life,
// summed. The copy is checked like every other row's.
func (b *bench) measureContinuous(ctx context.Context, run continuousRun) Result {
	r, specFile, err := b.mirrorRow(run.name(), run.label(), "")
	if err != nil {
		r.Err = err.Error()
		return r
	}
	// Info logs say when each process got which units; they go to a
	// file per process in the data directory.
	args := []string{"mirror", "-f", specFile, "--units", strconv.Itoa(run.units), "--progress", "never", "--log-level", "info"}
	args = append(args, strings.Fields(b.o.mirrorArgs)...)
	var (
		cmds []*exec.Cmd
		logs []string
	)
	for i := range run.processes {
		cmd := proc.Command(ctx, grace, b.bin, args...)
		path := filepath.Join(b.dir, fmt.Sprintf("%s-%d.log", run.name(), i+1))
		f, err := os.Create(path)
		if err != nil {
			r.Err = err.Error()
			return r
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
		cmds, logs = append(cmds, cmd), append(logs, path)
	}
	var clusterCPU time.Duration
	if b.sb != nil {
		clusterCPU = b.sb.CPU()
	}
	running, err := proc.Start(cmds)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	// Wait reports the processes' usage once all have exited; gone says
	// that they have.
	var (
		g       proc.Group
		waitErr error
		gone    = make(chan struct{})
	)
	go func() {
		g, waitErr = running.Wait()
		close(gone)
	}()

	firstCopy, watchErr := b.waitCopied(ctx, b.migration(run.name()), r.Topic, gone)
	wall, cpu := time.Since(running.Begin), running.CPU()
	if b.sb != nil {
		r.ClusterCPUSeconds = (b.sb.CPU() - clusterCPU).Seconds()
	}
	stopAt := time.Now()
	_ = running.Signal(syscall.SIGTERM)
	select {
	case <-gone:
	case <-time.After(stopGrace):
		_ = running.Signal(syscall.SIGKILL)
		<-gone
		waitErr = errors.Join(waitErr, fmt.Errorf("still running %s after SIGTERM: killed", stopGrace))
	}
	stopped := time.Since(stopAt)
	r.setUsage(g)
	r.WallSeconds, r.CPUSeconds = wall.Seconds(), cpu.Seconds()
	if err := errors.Join(watchErr, waitErr); err != nil {
		for i, c := range cmds {
			if c.ProcessState == nil || !c.ProcessState.Success() {
				err = fmt.Errorf("%w\nprocess %d (%s) ended with:\n%s", err, i+1, c.ProcessState, logTail(logs[i], 3<<10))
			}
		}
		r.Err = err.Error()
		return r
	}
	var copied []string
	for _, path := range logs {
		out, _ := os.ReadFile(path)
		if m := mirrorSummary.FindSubmatch(out); m != nil {
			copied = append(copied, string(m[1]))
		} else {
			copied = append(copied, "?")
		}
	}
	r.Detail = fmt.Sprintf("wall and CPU up to the checkpoints covering the source (polled every %s); first record on the target after %.2fs; then SIGTERM: all exited in %.2fs, CPU %.1fs over their whole life; records copied by each process: %s",
		pollEvery, firstCopy.Seconds(), stopped.Seconds(), g.CPU().Seconds(), strings.Join(copied, ", "))
	b.check(ctx, &r)
	return r
}

// waitCopied returns once the migration's checkpoints say that every
// source record was copied to topic, or with an error when a process exits
// first or ctx ends. It also returns when the target first held a record
// of topic (as polled), from its start.
func (b *bench) waitCopied(ctx context.Context, migration, topic string, gone <-chan struct{}) (time.Duration, error) {
	begin := time.Now()
	var first time.Duration
	// A short metadata age: the target topic appears while this polls,
	// and franz-go would keep it unknown for 5 s (its default), which
	// once showed here as a 5 s wait before the first copy.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.tgt...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return first, fmt.Errorf("waiting for the copy of every record: %w", ctx.Err())
		case <-gone:
			return first, errors.New("a mirror process exited before the copy was complete")
		case <-tick.C:
		}
		// End offsets count commit markers too: covering the source's is
		// necessary, not sufficient; the checkpoints decide.
		some, all := b.endsCover(ctx, adm, topic)
		if some && first == 0 {
			first = time.Since(begin)
		}
		if !all {
			continue
		}
		snap, err := state.Load(ctx, adm, state.TopicName(migration), []kgo.Opt{kgo.SeedBrokers(b.tgt...)})
		if err != nil {
			logf("reading the state of %s: %v (trying again)", migration, err)
			continue
		}
		if b.checkpointsCover(snap) {
			return first, nil
		}
	}
}

// endsCover lists the end offsets of topic on the target: some says that
// a partition holds something, all that every partition ends at or after
// the source partition's end (the seeded records start at offset 0 with no
// gap).
func (b *bench) endsCover(ctx context.Context, adm *kadm.Client, topic string) (some, all bool) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		return false, false
	}
	all = true
	for p, want := range b.expected {
		o, ok := ends.Lookup(topic, int32(p))
		some = some || (ok && o.Offset > 0)
		all = all && ok && o.Offset >= want.Records
	}
	return some, all
}

// checkpointsCover says whether the state's checkpoints cover every source
// partition to its end.
func (b *bench) checkpointsCover(snap *state.Snapshot) bool {
	for p, want := range b.expected {
		c, ok := snap.Checkpoints[state.TopicPartition{Topic: b.sourceTopic, Partition: int32(p)}]
		if !ok || c.Next < want.Records {
			return false
		}
	}
	return true
}

// logTail returns the last n bytes of the file at path.
func logTail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b[max(int64(len(b))-n, 0):]))
}
