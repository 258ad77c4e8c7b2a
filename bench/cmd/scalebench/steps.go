package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/internal/state"
)

// seedRow creates P/per-topic source topics and fills every partition; it
// returns the topics and the records each partition holds.
func (b *bench) seedRow(ctx context.Context, partitions int) ([]string, counts, error) {
	o := b.o
	var topics []string
	for i := range partitions / o.perTopic {
		topics = append(topics, fmt.Sprintf("scale.t%03d", i))
	}
	ctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
	defer cancel()
	start := time.Now()
	err := createTopics(ctx, b.src, topics, o.perTopic)
	if err == nil {
		err = seed(ctx, b.src, topics, o.perTopic, o.records, o.size)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("seed: %w", err)
	}
	logf("P=%d: seeded %d topics x %d partitions x %d records in %.1fs", partitions, len(topics), o.perTopic, o.records, time.Since(start).Seconds())
	want := counts{}
	for _, t := range topics {
		want[t] = make([]int64, o.perTopic)
		for p := range want[t] {
			want[t][p] = int64(o.records)
		}
	}
	return topics, want, nil
}

// profile saves, with --profile, a CPU profile of m's next seconds into
// the results directory (name in the file name, what in the log line);
// the returned channel is closed when it is done (at once without it).
func (b *bench) profile(ctx context.Context, m *mirrorProc, name, what string) <-chan struct{} {
	done := make(chan struct{})
	if b.o.profileSeconds == 0 {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		path := filepath.Join(b.o.resultsDir, fmt.Sprintf("scalebench-%s-%s.cpu.pprof", b.runID, name))
		if err := m.profile(ctx, b.o.profileSeconds, path); err != nil {
			logf("warning: profile: %v", err)
			return
		}
		logf("CPU profile of "+what+" saved in %s", b.o.profileSeconds, path)
	}()
	return done
}

// measure seeds the row's source and runs its steps in order; the first
// failed step ends the row.
func (b *bench) measure(ctx context.Context, r *Row) error {
	o := b.o
	topics, want, err := b.seedRow(ctx, r.Partitions)
	if err != nil {
		return err
	}
	prefix := "m."
	rename := func(t string) string { return prefix + t }
	var targets []string
	for _, t := range topics {
		targets = append(targets, rename(t))
	}
	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, o.stepTimeout) }

	migration := fmt.Sprintf("scale-%d-%d", r.Partitions, r.Procs)
	groupRe := "scale-g-.*"
	spec, err := b.specFile(migration, migration, prefix, groupRe)
	if err != nil {
		return err
	}
	// A short metadata age: the target topics appear while this polls,
	// and franz-go would keep them unknown for 5 s (its default): that
	// was the "fixed 5 s to the first copy" of the first reports.
	tcl, err := kgo.NewClient(kgo.SeedBrokers(b.tgt...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer tcl.Close()
	tadm := kadm.NewClient(tcl)

	// 1-3: start the processes together, then wait for the first and
	// the full copy.
	cpu := b.clusterCPU()
	var procs []*mirrorProc
	defer func() {
		for _, m := range procs {
			m.stop(ctx)
		}
	}()
	for i := range r.Procs {
		m, err := b.startMirror(ctx, spec, filepath.Join(b.dir, fmt.Sprintf("mirror-%d-%d-%d.log", r.Partitions, r.Procs, i)))
		if err != nil {
			return err
		}
		procs = append(procs, m)
	}
	start := procs[0].start
	profiled := b.profile(ctx, procs[0], fmt.Sprintf("P%d-n%d", r.Partitions, r.Procs), "the first %ds of process 0")
	sctx, cancel := step()
	defer cancel()
	sctx, unwatch := watchExits(sctx, procs)
	defer unwatch()
	written, first, err := waitFirstCopy(sctx, tadm, targets)
	if err != nil {
		return withCause(sctx, err)
	}
	r.FirstWriteSeconds = written.Sub(start).Seconds()
	r.FirstCopySeconds = first.Sub(start).Seconds()
	atTarget, err := waitTargetAtLeast(sctx, tadm, want, rename)
	if err != nil {
		return withCause(sctx, err)
	}
	full, err := waitCheckpoints(sctx, tadm, b.tgt, migration, want)
	if err != nil {
		return withCause(sctx, err)
	}
	r.TargetEndsSeconds = atTarget.Sub(start).Seconds()
	r.FullCopySeconds = full.Sub(start).Seconds()
	r.CopyClusterCPU = (b.clusterCPU() - cpu).Seconds()
	for _, m := range procs {
		// A process can still be joining when the others have copied
		// everything (a small copy): wait for its first assignment.
		t, changed := m.log.when(msgAssigned)
		for t.IsZero() {
			select {
			case <-changed:
				t, changed = m.log.when(msgAssigned)
			case <-sctx.Done():
				return withCause(sctx, fmt.Errorf("process %d never logged %q", len(r.StartSeconds), msgAssigned))
			}
		}
		r.StartSeconds = append(r.StartSeconds, t.Sub(m.start).Seconds())
	}
	logf("P=%d procs=%d: first record written %.1fs, first copy committed %.1fs, full copy %.1fs", r.Partitions, r.Procs, r.FirstWriteSeconds, r.FirstCopySeconds, r.FullCopySeconds)
	if err := b.checkCopy(sctx, want, targets, rename, "full copy"); err != nil {
		return err
	}

	// The profile covers the process's first seconds; it must end
	// before the process does.
	select {
	case <-profiled:
	case <-sctx.Done():
		return sctx.Err()
	}

	// 4: the state topic's size after the copy.
	st := state.TopicName(migration)
	if r.StateOffsets, r.StateBytes, r.StateBytesNote, err = stateSize(sctx, tadm, st); err != nil {
		return fmt.Errorf("state topic size: %w", err)
	}

	// 6: kill one of two; the survivor must own every unit and copy a
	// record written after the kill.
	if r.Procs == 2 {
		if err := b.rebalance(sctx, r, procs, tadm, topics, want, rename); err != nil {
			return withCause(sctx, err)
		}
	}
	cancel()

	// 5: stop the mirrors; their peak RSS over the whole run.
	for _, m := range procs {
		res := m.stop(ctx)
		if res.usage.MaxRSS > r.MaxRSS {
			r.MaxRSS = res.usage.MaxRSS
		}
		r.MaxRSSSum += res.usage.MaxRSS
		r.CPUSeconds += res.usage.CPU.Seconds()
		if res.err != nil && !killed(res.err) {
			return fmt.Errorf("mirror: %w (its error lines: %q)", res.err, m.log.errorLines())
		}
	}
	procs = nil

	// 7: groups migrate --all after the copy.
	sctx, cancel = step()
	defer cancel()
	if err := b.groupsMigrate(sctx, r, spec, topics); err != nil {
		return err
	}
	// 8: a full verify.
	return b.verify(sctx, r, spec)
}

// withCause adds why ctx ended (a mirror process exited) to err.
func withCause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && c != ctx.Err() {
		return fmt.Errorf("%w (%w)", err, c)
	}
	return err
}

func killed(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && !ee.Exited()
}

// checkCopy counts the records of every partition on both sides.
func (b *bench) checkCopy(ctx context.Context, want counts, targets []string, rename func(string) string, what string) error {
	got, err := countRecords(ctx, b.tgt, targets)
	if err != nil {
		return fmt.Errorf("check %s: %w", what, err)
	}
	if diff := compareCounts(want, got, rename); diff != "" {
		return fmt.Errorf("check %s: %s", what, diff)
	}
	return nil
}

// rebalance kills the process that does not own unit 0 (the other one
// keeps the leader work) and times the survivor taking every unit, and a
// record written to every source partition after the kill reaching the
// target.
func (b *bench) rebalance(ctx context.Context, r *Row, procs []*mirrorProc, tadm *kadm.Client, topics []string, want counts, rename func(string) string) error {
	var targets []string
	for _, t := range topics {
		targets = append(targets, rename(t))
	}
	before, err := lastStable(ctx, tadm, targets)
	if err != nil {
		return err
	}
	victim, survivor := procs[1], procs[0]
	if us, _, _ := procs[0].log.owns(); len(us) > 0 && us[0] != 0 {
		victim, survivor = procs[0], procs[1]
	}
	vu, _, _ := victim.log.owns()
	su, _, _ := survivor.log.owns()
	r.UnitsBeforeKill = fmt.Sprintf("%v / %v", su, vu)
	survivor.log.markAll()
	killAt, _, err := victim.kill(ctx)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	profiled := b.profile(ctx, survivor, fmt.Sprintf("P%d-n2-rebalance", r.Partitions), "the survivor's first %ds after the kill")
	defer func() { <-profiled }()
	if err := produceMarkers(ctx, b.src, topics, b.o.perTopic); err != nil {
		return fmt.Errorf("markers: %w", err)
	}
	for t := range want {
		for p := range want[t] {
			want[t][p]++
		}
	}
	bumped := counts{}
	for t, ps := range before {
		bumped[t] = make([]int64, len(ps))
		for p, v := range ps {
			bumped[t][p] = v + 1
		}
	}
	for {
		_, at, ch := survivor.log.owns()
		if !at.IsZero() {
			r.OwnAllSeconds = at.Sub(killAt).Seconds()
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			us, _, _ := survivor.log.owns()
			return fmt.Errorf("survivor owns %v, not all %d units: %w", us, b.o.units, ctx.Err())
		}
	}
	same := func(t string) string { return t }
	copied, err := waitTargetAtLeast(ctx, tadm, bumped, same)
	if err != nil {
		return fmt.Errorf("markers: %w", err)
	}
	r.MarkersSeconds = copied.Sub(killAt).Seconds()
	r.RebalanceSeconds = max(r.OwnAllSeconds, r.MarkersSeconds)
	logf("P=%d: survivor owned all units %.1fs after the kill, markers on the target after %.1fs", r.Partitions, r.OwnAllSeconds, r.MarkersSeconds)
	return b.checkCopy(ctx, want, targets, rename, "after the kill")
}

// groupsMigrate commits G idle groups on the source and times
// `kmigrate groups migrate --all`; every group must be moved with every
// partition committed.
func (b *bench) groupsMigrate(ctx context.Context, r *Row, spec string, topics []string) error {
	o := b.o
	if o.groups == 0 {
		return nil
	}
	var groups []string
	for i := range o.groups {
		groups = append(groups, fmt.Sprintf("scale-g-%04d", i))
	}
	at := int64(o.records / 2)
	if err := commitGroups(ctx, b.src, groups, topics[:o.groupTopics], o.perTopic, at); err != nil {
		return err
	}
	r.Groups, r.GroupPartitions = o.groups, o.groupTopics*o.perTopic
	out, secs, err := b.kmigrate(ctx, "groups", "migrate", "-f", spec, "--all", "-o", "json", "--progress", "never", "--log-level", "warn")
	r.GroupsMigrateSeconds = secs
	if err != nil {
		return fmt.Errorf("groups migrate: %w", err)
	}
	var res struct {
		Groups []struct {
			Group     string `json:"group"`
			Committed int    `json:"committed"`
			Error     string `json:"error"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("groups migrate output: %w", err)
	}
	if len(res.Groups) != o.groups {
		return fmt.Errorf("groups migrate moved %d groups, want %d", len(res.Groups), o.groups)
	}
	for _, g := range res.Groups {
		if g.Error != "" || g.Committed != r.GroupPartitions {
			return fmt.Errorf("groups migrate: group %s committed %d partitions, want %d (%s)", g.Group, g.Committed, r.GroupPartitions, g.Error)
		}
	}
	logf("P=%d procs=%d: groups migrate --all of %d groups in %.1fs", r.Partitions, r.Procs, o.groups, secs)
	return nil
}

// verify times a full `kmigrate verify`; it must match every record.
func (b *bench) verify(ctx context.Context, r *Row, spec string) error {
	out, secs, err := b.kmigrate(ctx, "verify", "-f", spec, "-o", "json", "--progress", "never", "--log-level", "warn")
	r.VerifySeconds = secs
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	var res struct {
		OK     bool `json:"ok"`
		Totals struct {
			Partitions int   `json:"partitions"`
			Source     int64 `json:"source_records"`
			Matched    int64 `json:"matched"`
		} `json:"totals"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("verify output: %w", err)
	}
	want := r.Records
	if r.Procs == 2 {
		want += int64(r.Partitions) // the markers
	}
	if !res.OK || res.Totals.Partitions != r.Partitions || res.Totals.Matched != want {
		return fmt.Errorf("verify: ok %v, %d partitions, %d matched, want ok, %d, %d", res.OK, res.Totals.Partitions, res.Totals.Matched, r.Partitions, want)
	}
	logf("P=%d procs=%d: verify in %.1fs", r.Partitions, r.Procs, secs)
	return nil
}

// kmigrate runs one kmigrate command and returns its stdout and wall
// time; a failure carries the end of its stderr.
func (b *bench) kmigrate(ctx context.Context, args ...string) ([]byte, float64, error) {
	cmd := proc.Command(ctx, grace, b.bin, args...)
	var out bytes.Buffer
	stderr := proc.NewTail(8 << 10)
	cmd.Stdout, cmd.Stderr = &out, stderr
	g, err := proc.Run([]*exec.Cmd{cmd})
	if err != nil {
		return out.Bytes(), g.Wall.Seconds(), proc.ExitError(fmt.Errorf("kmigrate %s: %w (stdout %.500s)", args[0], err, out.String()), stderr)
	}
	return out.Bytes(), g.Wall.Seconds(), nil
}
