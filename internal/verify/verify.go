package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"golang.org/x/sync/errgroup"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Defaults of Options.
const (
	DefaultParallel      = 4
	DefaultFetchMaxBytes = 1 << 20
	DefaultMaxListed     = 100
	DefaultMaxPending    = 100_000
	// sampleFetchBytes bounds the fetches of sample mode, which want one
	// record (a broker still returns at least one whole batch).
	sampleFetchBytes = 64 << 10
)

// Options tune a verification; the zero value is a full verification
// with defaults. The migration (clusters, state, the topics and groups
// selected) comes from the handle.
type Options struct {
	// Sample, when > 0, checks only this many evenly spaced source offsets
	// per partition, plus the ends, instead of every record.
	Sample int
	// Parallel is how many partitions are verified at once
	// (DefaultParallel when 0). Memory grows with it: each partition
	// holds up to about three fetch responses per cluster.
	Parallel int
	// FetchMaxBytes bounds each fetch response (DefaultFetchMaxBytes when
	// 0; a broker returns at least one whole record batch).
	FetchMaxBytes int32
	// MaxListed bounds the problems listed per partition
	// (DefaultMaxListed when 0); all are counted.
	MaxListed int
	// MaxPending bounds the source records a full walk keeps while it
	// waits for a copy that may come out of order (DefaultMaxPending when
	// 0, about 60 bytes each); beyond it, gaps are final at once.
	MaxPending int
}

func (o *Options) validate() error {
	if o.Sample < 0 || o.Parallel < 0 || o.FetchMaxBytes < 0 || o.MaxListed < 0 || o.MaxPending < 0 {
		return errors.New("verify: Sample, Parallel, FetchMaxBytes, MaxListed and MaxPending must not be negative")
	}
	return nil
}

// defaults fills the zero fields with their defaults.
func (o *Options) defaults() {
	if o.Parallel == 0 {
		o.Parallel = DefaultParallel
	}
	if o.FetchMaxBytes == 0 {
		o.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if o.MaxListed == 0 {
		o.MaxListed = DefaultMaxListed
	}
	if o.MaxPending == 0 {
		o.MaxPending = DefaultMaxPending
	}
}

// Verifier compares a migration's source partitions with their copies.
type Verifier struct {
	o        Options
	h        *migration.Handle
	log      *slog.Logger
	src, tgt *fetcher
	// snap is the migration's state, read once when the verification is
	// set up: its checkpoints bound what is verified, so a running mirror
	// does not move the goal.
	snap *state.Snapshot
	// partitions and verified count the partitions a running Run
	// verifies, for Progress.
	partitions, verified atomic.Int64
}

// Progress is how far a running verification is: the partitions verified
// of those it verifies (0 of 0 until it has planned them), and the records
// read so far from each cluster.
type Progress struct {
	Partitions     int64
	PartitionsDone int64
	SourceRecords  int64
	TargetRecords  int64
}

// Progress says how far Run is; safe to call while it runs.
func (v *Verifier) Progress() Progress {
	return Progress{Partitions: v.partitions.Load(), PartitionsDone: v.verified.Load(),
		SourceRecords: v.src.records.Load(), TargetRecords: v.tgt.records.Load()}
}

// New reads the migration's state (an error wrapping migration.ErrNoState
// when there is none: nothing was mirrored, nothing can be verified),
// checks the options and returns a Verifier. Verify only reads.
func New(ctx context.Context, h *migration.Handle, o Options) (*Verifier, error) {
	snap, err := h.LoadState(ctx)
	if err == nil && snap.Meta == nil {
		err = migration.ErrNoState
	}
	if err != nil {
		return nil, fmt.Errorf("verify migration %s: %w", h.Name(), err)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	o.defaults()
	return &Verifier{o: o, h: h, log: h.Logger(), snap: snap,
		src: newFetcher(h.Source(), "source"), tgt: newFetcher(h.Target(), "target")}, nil
}

// Run verifies every mirrored partition and the selected groups, and
// returns the report. Problems found are in the report (Report.OK); the
// error is for a verification that could not run at all (a cluster
// unreachable, ctx ended).
func (v *Verifier) Run(ctx context.Context) (*Report, error) {
	begin := time.Now()
	meta := v.snap.Meta
	rep := &Report{
		Version: SchemaVersion, Migration: meta.Migration, Mode: ModeFull,
		TracingHeaders: meta.TracingHeaders, Guarantee: meta.Guarantee,
		Snapshot: begin.UTC(), Partitions: []PartitionReport{}, Groups: []GroupReport{},
	}
	if v.o.Sample > 0 {
		rep.Mode, rep.Sample = ModeSample, v.o.Sample
	}
	jobs, reports, err := v.plan(ctx)
	if err != nil {
		return nil, err
	}
	rep.Partitions = append(rep.Partitions, reports...)
	v.verified.Store(0)
	v.partitions.Store(int64(len(jobs)))
	v.log.Info("verifying", "migration", meta.Migration, "mode", rep.Mode, "partitions", len(jobs), "parallel", v.o.Parallel)

	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.o.Parallel)
	for _, j := range jobs {
		g.Go(func() error {
			res := v.verifyPartition(gctx, j)
			if err := gctx.Err(); err != nil {
				return err
			}
			v.log.Debug("partition verified", "topic", res.Topic, "partition", res.Partition, "status", res.Status)
			mu.Lock()
			rep.Partitions = append(rep.Partitions, res)
			mu.Unlock()
			v.verified.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if rep.Groups, err = v.checkGroups(ctx); err != nil {
		return nil, err
	}
	if rep.Access, err = acls.Compare(ctx, v.h); err != nil {
		return nil, err
	}
	rep.Totals.FetchesSent = v.src.fetches.Load() + v.tgt.fetches.Load()
	rep.Totals.BytesRead = v.src.bytes.Load() + v.tgt.bytes.Load()
	rep.Totals.RecordsRead = v.src.records.Load() + v.tgt.records.Load()
	rep.Seconds = time.Since(begin).Seconds()
	rep.finish()
	return rep, nil
}

// topics returns the mirrored source topics to verify, sorted, and their
// target names.
func (v *Verifier) topics() ([]string, map[string]string) {
	names := map[string]string{}
	for s, t := range v.snap.Meta.Topics {
		if v.h.Config().Topics.Selection.Match(s) {
			names[s] = t
		}
	}
	return slices.Sorted(maps.Keys(names)), names
}

// plan fixes what is verified: for each partition of a mirrored topic, the
// source range from the first copied offset the source still holds to the
// checkpoint, and the target range from its log start to its last stable
// offset (with tracing headers; to the checkpoint's target end without).
// Partitions without a checkpoint come back as finished reports.
func (v *Verifier) plan(ctx context.Context) ([]job, []PartitionReport, error) {
	srcTopics, targets := v.topics()
	if len(srcTopics) == 0 {
		return nil, nil, nil
	}
	tgtTopics := slices.Sorted(maps.Values(targets))
	srcAdm, tgtAdm := kadm.NewClient(v.h.Source()), kadm.NewClient(v.h.Target())
	md, err := srcAdm.Metadata(ctx, srcTopics...)
	if err != nil {
		return nil, nil, fmt.Errorf("source metadata: %w", err)
	}
	srcStarts, srcEnds, err := bounds(ctx, srcAdm, "source", srcTopics)
	if err != nil {
		return nil, nil, err
	}
	tgtStarts, tgtEnds, err := bounds(ctx, tgtAdm, "target", tgtTopics)
	if err != nil {
		return nil, nil, err
	}
	srcCompact, err := compacted(ctx, srcAdm, "source", srcTopics)
	if err != nil {
		return nil, nil, err
	}
	tgtCompact, err := compacted(ctx, tgtAdm, "target", tgtTopics)
	if err != nil {
		return nil, nil, err
	}

	snap, meta := v.snap, v.snap.Meta
	var jobs []job
	var done []PartitionReport
	for _, topic := range srcTopics {
		ps := map[int32]bool{}
		for _, p := range md.Topics[topic].Partitions {
			ps[p.Partition] = true
		}
		for tp := range snap.Checkpoints {
			if tp.Topic == topic {
				ps[tp.Partition] = true
			}
		}
		for _, p := range slices.Sorted(maps.Keys(ps)) {
			tp := state.TopicPartition{Topic: topic, Partition: p}
			res := PartitionReport{Topic: topic, Partition: p, TargetTopic: targets[topic], Problems: []Problem{}, Expired: expired(snap.Expired[tp])}
			ss, se := lookup(srcStarts, topic, p), lookup(srcEnds, topic, p)
			ts, te := lookup(tgtStarts, targets[topic], p), lookup(tgtEnds, targets[topic], p)
			cp, mirrored := snap.Checkpoints[tp]
			switch {
			case !mirrored && ss.Err == nil && se.Err == nil:
				res.Status = StatusNotMirrored
				res.Counts.Pending = max(0, se.Offset-ss.Offset)
				res.Source = Range{From: ss.Offset, Until: ss.Offset}
				res.Notes = append(res.Notes, fmt.Sprintf("the mirror has not started this partition: %d offsets not verified", res.Counts.Pending))
				done = append(done, res)
				continue
			case ss.Err != nil || se.Err != nil || ts.Err != nil || te.Err != nil:
				res.Status = StatusError
				res.Error = errors.Join(ss.Err, se.Err, ts.Err, te.Err).Error()
				done = append(done, res)
				continue
			}
			m, err := offsetmap.LoadPersisted(snap.Segments[tp])
			if err != nil {
				return nil, nil, fmt.Errorf("offset map of %s: %w", tp, err)
			}
			p := &partition{
				tp: tp, target: targets[topic], sourceID: v.h.SourceID(), targetID: v.h.TargetID(),
				headers: meta.TracingHeaders, m: m, sourceStart: ss.Offset,
				targetNext: cp.TargetNext, sourceCompacted: srcCompact[topic], targetCompacted: tgtCompact[targets[topic]],
				maxListed: v.o.MaxListed, maxPending: v.o.MaxPending,
			}
			p.src = Range{From: cp.Next, Until: cp.Next}
			if first, ok := m.First(); ok {
				p.src.From = min(max(ss.Offset, first.Source), cp.Next)
			}
			res.Counts.BeforeFirstCopy = max(0, p.src.From-ss.Offset)
			p.tgt = Range{From: ts.Offset, Until: te.Offset}
			if !p.headers {
				p.tgt.Until = min(te.Offset, cp.TargetNext)
			}
			p.tgt.Until = max(p.tgt.Until, p.tgt.From)
			if te.Offset < cp.TargetNext {
				res.Notes = append(res.Notes, fmt.Sprintf("the target partition ends at offset %d, before the checkpoint's target end %d", te.Offset, cp.TargetNext))
			}
			if first, ok := m.First(); ok && ss.Offset > first.Source {
				res.Notes = append(res.Notes, fmt.Sprintf("the source no longer holds offsets below %d (deleted after they were copied): their copies are not compared", ss.Offset))
			}
			res.Counts.Pending = max(0, se.Offset-cp.Next)
			if res.Counts.Pending > 0 {
				res.Notes = append(res.Notes, fmt.Sprintf("not yet verified: %d source offsets from %d, mirrored after the snapshot", res.Counts.Pending, cp.Next))
			}
			res.Source, res.Target = p.src, p.tgt
			jobs = append(jobs, job{p: p, res: res})
		}
	}
	return jobs, done, nil
}

// bounds lists the log start and last stable offsets of topics.
func bounds(ctx context.Context, adm *kadm.Client, side string, topics []string) (kadm.ListedOffsets, kadm.ListedOffsets, error) {
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s start offsets: %w", side, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s end offsets: %w", side, err)
	}
	return starts, ends, nil
}

// lookup returns the listed offset of topic/partition; a partition the
// listing lacks has the error kerr.UnknownTopicOrPartition.
func lookup(l kadm.ListedOffsets, topic string, partition int32) kadm.ListedOffset {
	o, ok := l.Lookup(topic, partition)
	if !ok {
		return kadm.ListedOffset{Topic: topic, Partition: partition, Err: fmt.Errorf("%s/%d: %w", topic, partition, kerr.UnknownTopicOrPartition)}
	}
	return o
}

// compacted returns which topics have cleanup.policy compact.
func compacted(ctx context.Context, adm *kadm.Client, side string, topics []string) (map[string]bool, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("%s topic configs: %w", side, err)
	}
	out := map[string]bool{}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil && strings.Contains(*c.Value, "compact") {
				out[rc.Name] = true
			}
		}
	}
	return out, nil
}

func expired(es []state.Expired) []ExpiredRange {
	var out []ExpiredRange
	for _, e := range es {
		out = append(out, ExpiredRange{From: e.From, Until: e.Until, Count: e.Count(), Reason: e.Reason})
	}
	return out
}

// job is one partition to verify and its report so far.
type job struct {
	p   *partition
	res PartitionReport
}

// verifyPartition verifies one partition, fully or by samples.
func (v *Verifier) verifyPartition(ctx context.Context, j job) PartitionReport {
	r := j.res
	var err error
	if v.o.Sample > 0 {
		err = v.sample(ctx, j.p, &r)
	} else {
		err = v.walk(ctx, j.p, &r)
	}
	if err != nil {
		r.Status, r.Error = StatusError, err.Error()
	}
	return r
}

// walk verifies every record of p.
func (v *Verifier) walk(ctx context.Context, p *partition, res *PartitionReport) error {
	src := v.src.stream(ctx, p.tp.Topic, p.tp.Partition, p.src.From, p.src.Until, v.o.FetchMaxBytes)
	defer src.close()
	tgt := v.tgt.stream(ctx, p.target, p.tp.Partition, p.tgt.From, p.tgt.Until, v.o.FetchMaxBytes)
	defer tgt.close()
	var tail *stream
	defer func() {
		if tail != nil {
			tail.close()
		}
	}()
	openTail := func() feed {
		end := p.tgt.Until
		if ends, err := kadm.NewClient(v.h.Target()).ListCommittedOffsets(ctx, p.target); err == nil {
			if e, ok := ends.Lookup(p.target, p.tp.Partition); ok && e.Err == nil {
				end = max(end, e.Offset)
			}
		}
		tail = v.tgt.stream(ctx, p.target, p.tp.Partition, p.tgt.Until, end, v.o.FetchMaxBytes)
		return tail
	}
	return newWalker(p, res, src).run(tgt, openTail)
}
