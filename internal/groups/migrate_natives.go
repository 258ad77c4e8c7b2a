package groups

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
)

// unreachable finds, for each forward translation, the records written
// natively on the target below its reach bound (before the last copy the
// group consumed): the translated position never delivers them. Without
// any it does nothing. Otherwise choice decides: NativesRefuse returns an
// *UnreachableError; NativesSkip keeps the positions and warns;
// NativesReread moves each such partition to its first unreachable native
// and counts the copies the group will read a second time.
func (c *clusters) unreachable(ctx context.Context, group string, res *GroupResult, choice NativeChoice) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxPointers)
	for i := range res.Partitions {
		pr := &res.Partitions[i]
		if pr.bound <= 0 {
			continue
		}
		g.Go(func() error {
			src := SourcePartition{ClusterID: c.SourceID, Topic: pr.Topic, Partition: pr.Partition}
			rs, err := gapNatives(gctx, c.Target, pr.ToTopic, pr.Partition, pr.m, 0, pr.bound, src)
			pr.UnreachableNatives, pr.Unreachable = below(rs, pr.bound)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var hit []PartitionResult
	for _, pr := range res.Partitions {
		if pr.Unreachable > 0 {
			hit = append(hit, pr)
		}
	}
	if len(hit) == 0 {
		return nil
	}
	if choice == "" || choice == NativesRefuse {
		return &UnreachableError{Group: group, Partitions: hit, Kind: ErrUnreachableNatives, Hint: hintUnreachable}
	}
	p := newPointer(c.Target)
	for i := range res.Partitions {
		pr := &res.Partitions[i]
		if pr.Unreachable == 0 {
			continue
		}
		where := fmt.Sprintf("%s/%d: %d records written natively on the target (%s) lie before copies the group already consumed", pr.ToTopic, pr.Partition, pr.Unreachable, RangesText(pr.UnreachableNatives, 10))
		if choice == NativesSkip {
			res.Warnings = append(res.Warnings, where+fmt.Sprintf(": skipped as chosen (--unreachable-natives=skip): the group resumes at offset %d and never reads them", pr.To))
			continue
		}
		first := pr.UnreachableNatives[0].From
		pr.exact, pr.reread = pr.To, true
		pr.Reread = copiesBetween(pr.m, first, pr.To)
		pr.To = first
		rec, ok, err := p.at(ctx, pr.ToTopic, pr.Partition, first, SourcePartition{ClusterID: c.SourceID, Topic: pr.Topic, Partition: pr.Partition})
		if err != nil {
			return fmt.Errorf("read the record at %s/%d offset %d: %w", pr.ToTopic, pr.Partition, first, err)
		}
		if ok {
			pr.Record = &rec
		}
		res.Warnings = append(res.Warnings, where+fmt.Sprintf(": re-read as chosen (--unreachable-natives=reread): the group resumes at offset %d, the first of them, reads %d natives and reads again the %d copies in between, which it already consumed on the source",
			first, pr.Unreachable+pr.Native, pr.Reread))
	}
	return nil
}

// copiesBetween counts the copies (mapped target offsets) in [from, to).
func copiesBetween(m *offsetmap.Map, from, to int64) int64 {
	if m == nil {
		return 0
	}
	var n int64
	for _, r := range m.Runs() {
		lo, hi := max(r.Target, from), min(r.TargetEnd(), to)
		if hi > lo {
			n += hi - lo
		}
	}
	return n
}
