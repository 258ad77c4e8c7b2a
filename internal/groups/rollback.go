package groups

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// RollbackOptions are the choices of one `groups rollback`.
type RollbackOptions struct {
	// WaitInactive is how long to wait for the group to stop on the
	// target; 0 checks once.
	WaitInactive time.Duration
	// DryRun translates and reports without committing.
	DryRun bool
	// AllowRewind commits translations below the group's current source
	// offsets (it consumed on the source since it was migrated).
	AllowRewind bool
	// Poll is how often waits re-check (DefaultPoll when 0).
	Poll time.Duration
}

// Rollback moves one consumer group back: it translates the offsets the
// group committed on the target to source offsets, exactly (the inverse of
// Migrate, from the offset map), and commits them on the source. It is the
// only operation of kmigrate that writes to the source, and only offsets:
// it requires the group to have no consumers on the source and none on
// the target (waiting up to opts.WaitInactive for the target application
// to stop).
//
// A committed target offset t translates to the source offset of the
// first copy at or after t: the group has consumed every copy before t,
// so on the source it resumes at the first record it has not seen. Records
// that producers wrote natively on the target after t have no source
// counterpart: Rollback reads the target partition from t to its end and
// counts them (PartitionResult.Native), since the group will not see them
// on the source. In the result, Topic/From are the target side and
// ToTopic/To the source side.
func Rollback(ctx context.Context, h *migration.Handle, group string, opts RollbackOptions) (*GroupResult, error) {
	c := newClusters(h, opts.Poll)
	res := &GroupResult{Group: group, Method: MethodExact, DryRun: opts.DryRun, Partitions: []PartitionResult{}}
	err := c.rollback(ctx, group, opts, res)
	if err != nil {
		res.fail(err)
	}
	return res, err
}

func (c *clusters) rollback(ctx context.Context, group string, opts RollbackOptions, res *GroupResult) error {
	src, tgt := c.srcAdm(), c.tgtAdm()
	if _, err := c.waitInactive(ctx, tgt, group, "target", opts.WaitInactive); err != nil {
		return fmt.Errorf("%w: stop the application on the target first (or pass --wait to wait for it)", err)
	}
	if _, err := c.waitInactive(ctx, src, group, "source", 0); err != nil {
		return fmt.Errorf("%w: stop the consumers using its name on the source first", err)
	}
	offsets, err := fetchCommitted(ctx, tgt, group)
	if err != nil {
		return err
	}
	if len(offsets) == 0 {
		return fmt.Errorf("group %q has no committed offsets on the target: %w", group, ErrNoOffsets)
	}
	snap, err := c.State(ctx)
	if err != nil {
		return fmt.Errorf("read migration state: %w", err)
	}
	if snap == nil || snap.Meta == nil {
		return fmt.Errorf("%w: nothing was mirrored, so there is nothing to roll back", migration.ErrNoState)
	}
	sourceOf := map[string]string{}
	for s, t := range snap.Meta.Topics {
		sourceOf[t] = s
	}
	var parts []Partition // the state of each result's source partition
	for _, o := range offsets {
		st, ok := sourceOf[o.TP.Topic]
		if !ok {
			res.Unmirrored = append(res.Unmirrored, Offset{Topic: o.TP.Topic, Partition: o.TP.Partition, Offset: o.At})
			continue
		}
		p, err := FromSnapshot(snap, state.TopicPartition{Topic: st, Partition: o.TP.Partition})
		if err != nil {
			return err
		}
		r := back(p, o.At)
		pr := PartitionResult{
			Topic: o.TP.Topic, Partition: o.TP.Partition, From: o.At,
			ToTopic: st, To: r.Offset, Kind: r.Kind, Previous: -1, metadata: o.Metadata,
		}
		if pr.Native, err = c.countNative(ctx, st, o.TP, o.At, p.Map); err != nil {
			return err
		}
		if pr.Native > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s/%d: %d records after the group's position (offset %d) were written natively on the target: the source does not have them, so the group will not see them after the rollback",
				o.TP.Topic, o.TP.Partition, pr.Native, o.At))
		}
		res.Partitions = append(res.Partitions, pr)
		parts = append(parts, p)
	}
	if len(res.Partitions) == 0 {
		return fmt.Errorf("none of the topics group %q committed offsets for on the target is mirrored by migration %s: %w", group, snap.Meta.Migration, ErrNoOffsets)
	}
	prev, err := fetchCommitted(ctx, src, group)
	if err != nil {
		return err
	}
	keepEquivalent(res, prev, parts)
	if err := c.point(ctx, res, false); err != nil {
		return err
	}
	commit, err := plan(res, prev, opts.AllowRewind, "source")
	if err != nil {
		return err
	}
	if opts.DryRun || len(commit) == 0 {
		return nil
	}
	if err := commitOffsets(ctx, src, group, commit); err != nil {
		return err
	}
	c.Logger.Info("rolled group offsets back to the source", "group", group, "partitions", res.Committed)
	c.record(ctx, group, "rolled-back", fmt.Sprintf("%d partitions committed on the source", res.Committed))
	return nil
}

// keepEquivalent leaves a partition's source offset as it is when it
// already translates to the group's target position: the offsets between
// them held nothing the group can read (markers, aborted or removed
// records), so the source position is the same one. A migration followed
// at once by a rollback then writes nothing.
func keepEquivalent(res *GroupResult, prev []committed, parts []Partition) {
	for i := range res.Partitions {
		pr := &res.Partitions[i]
		for _, p := range prev {
			if p.TP.Topic != pr.ToTopic || p.TP.Partition != pr.Partition || p.At == pr.To {
				continue
			}
			if r, err := Translate(parts[i], p.At); err == nil && r.Kind != NotYetMirrored && r.Offset == pr.From {
				// The group's source offset holds nothing it can read;
				// the record shown is the next one.
				pr.To, pr.Kind = p.At, NextCopied
			}
		}
	}
}

// back translates a committed target offset t of a source partition's
// copy to the source. An empty map (nothing copied) and t past the copies
// translate to the checkpoint: every source offset below it was copied
// (and consumed on the target) or not copyable.
func back(p Partition, t int64) Result {
	if p.Map == nil || p.Map.Len() == 0 || t >= p.Map.TargetEnd() {
		return Result{Kind: End, Offset: p.Checkpoint.Next}
	}
	r, _ := TranslateBack(p.Map, t) // t >= 0 and the map is not empty
	return r
}

// countNative counts the records of target partition tp from offset t to
// its last stable offset that are not copies of source topic st: records
// without a tracing header naming that partition whose offset the map does
// not hold either (tracing headers may be off).
func (c *clusters) countNative(ctx context.Context, st string, tp state.TopicPartition, t int64, m *offsetmap.Map) (int64, error) {
	ends, err := c.tgtAdm().ListCommittedOffsets(ctx, tp.Topic)
	if err != nil {
		return 0, fmt.Errorf("list end offsets of %s: %w", tp.Topic, err)
	}
	end, ok := ends.Lookup(tp.Topic, tp.Partition)
	if !ok || end.Err != nil {
		return 0, fmt.Errorf("list end offset of %s: %w", tp, errors.Join(end.Err, kerr.UnknownTopicOrPartition))
	}
	r := newPartReader(c.Target, tp.Topic, tp.Partition, 1<<20)
	if err := r.refreshLeader(ctx); err != nil {
		return 0, err
	}
	var n int64
	for from := t; from < end.Offset; {
		fp, next, err := r.fetch(ctx, from)
		if err != nil {
			return 0, fmt.Errorf("count native records of %s: %w", tp, err)
		}
		for _, kr := range fp.Records {
			if kr.Offset < from || kr.Offset >= end.Offset {
				continue
			}
			_, k, err := trace.Of(kr.Headers, trace.Source{ClusterID: c.SourceID, Topic: st, Partition: tp.Partition})
			switch k {
			case trace.Corrupt:
				return 0, fmt.Errorf("%s: offset %d: %w: %w", tp, kr.Offset, ErrCorruptHeader, err)
			case trace.Copy:
				continue
			}
			if m != nil {
				if _, exact, _ := m.Reverse(kr.Offset); exact {
					continue
				}
			}
			n++
		}
		if next <= from {
			break
		}
		from = next
	}
	return n, nil
}
