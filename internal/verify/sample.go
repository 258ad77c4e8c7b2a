package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// sample checks p at Options.Sample evenly spaced source offsets (and the
// ends) instead of every record: for each, the first source record at or
// after the offset is read, its copy is located with the offset map and
// read, identified by its tracing header and compared. Then the target
// after the last mapped copy is read (only it), which catches copies
// written twice at the end. Counts come from the offset map.
func (v *Verifier) sample(ctx context.Context, p *partition, res *PartitionReport) error {
	c := &res.Counts
	c.SourceRecords, c.Copies = mapped(p.m, p.src, p.tgt.From)
	v.deletedOnTarget(p, res)

	seen := map[int64]bool{}
	srcCur, tgtCur := v.src.cursor(p.tp.Topic, p.tp.Partition), v.tgt.cursor(p.target, p.tp.Partition)
	for _, s := range samplePoints(p.src, v.o.Sample) {
		r, err := firstRecord(ctx, srcCur, p, s)
		if err != nil {
			return err
		}
		if r == nil || seen[r.Offset] {
			continue
		}
		seen[r.Offset] = true
		c.Sampled++
		if err := v.sampleOne(ctx, tgtCur, p, res, r); err != nil {
			return err
		}
	}
	if err := v.sampleTail(ctx, p, res); err != nil {
		return err
	}
	res.Status = StatusOK
	if c.problems() > 0 {
		res.Status = StatusFailed
	}
	return nil
}

// sampleOne checks the copy of source record r.
func (v *Verifier) sampleOne(ctx context.Context, tgt *cursor, p *partition, res *PartitionReport, r *kgo.Record) error {
	c := &res.Counts
	o := r.Offset
	t, exact, _ := p.m.Lookup(o)
	switch {
	case !exact:
		addProblem(res, Problem{Kind: KindGap, SourceOffset: o, TargetOffset: -1, ExpectedTargetOffset: -1,
			Detail: fmt.Sprintf("source offset %d has no copy: the offset map has no entry for it", o)}, &c.Gaps, p.maxListed)
		return nil
	case t < p.tgt.From:
		return nil // counted by deletedOnTarget
	}
	q, err := tgt.at(ctx, t, t+1)
	if err != nil {
		return err
	}
	if q == nil {
		if p.targetCompacted {
			c.CompactedOnTarget++
			return nil
		}
		addProblem(res, Problem{Kind: KindGap, SourceOffset: o, TargetOffset: -1, ExpectedTargetOffset: t,
			Detail: fmt.Sprintf("source offset %d has no copy: target offset %d, where the offset map puts it, holds no record", o, t)}, &c.Gaps, p.maxListed)
		return nil
	}
	if p.headers {
		h, k, err := trace.Of(q.Headers, p.source())
		if k != trace.Copy || h.Offset != o {
			what := "a record that is no copy of this partition"
			switch k {
			case trace.Copy:
				what = fmt.Sprintf("the copy of source offset %d", h.Offset)
			case trace.Corrupt:
				what = fmt.Sprintf("a record with a corrupt tracing header (%v)", err)
			}
			addProblem(res, Problem{Kind: KindMapMismatch, SourceOffset: o, TargetOffset: t, ExpectedTargetOffset: t,
				Detail: fmt.Sprintf("the offset map puts the copy of source offset %d at target offset %d, which holds %s", o, t, what)}, &c.MapMismatches, p.maxListed)
			return nil
		}
		if restamp(q, h) {
			c.Restamped++
		}
	}
	if f := diff(r, q); len(f) > 0 {
		addProblem(res, Problem{Kind: KindMismatch, SourceOffset: o, TargetOffset: t, Fields: f,
			Detail: fmt.Sprintf("the copy of source offset %d at target offset %d differs in %v", o, t, f)}, &c.Mismatches, p.maxListed)
		return nil
	}
	c.Matched++
	return nil
}

// sampleTail reads the target after the last mapped copy: with tracing
// headers, a copy there of a source offset below the checkpoint is a
// duplicate (or unexpected); records there are otherwise native or the
// mirror's work after the snapshot.
func (v *Verifier) sampleTail(ctx context.Context, p *partition, res *PartitionReport) error {
	if !p.headers {
		return nil
	}
	from := max(p.tgt.From, p.m.TargetEnd())
	s := v.tgt.stream(ctx, p.target, p.tp.Partition, from, p.tgt.Until, v.o.FetchMaxBytes)
	defer s.close()
	c := &res.Counts
	for {
		q, err := s.next()
		if err != nil || q == nil {
			return err
		}
		h, k, err := trace.Of(q.Headers, p.source())
		switch {
		case k == trace.Corrupt:
			addProblem(res, Problem{Kind: KindUnexpected, SourceOffset: -1, TargetOffset: q.Offset,
				Detail: fmt.Sprintf("target offset %d: %v", q.Offset, err)}, &c.Unexpected, p.maxListed)
		case k == trace.Sibling:
			addProblem(res, Problem{Kind: KindUnexpected, SourceOffset: h.Offset, TargetOffset: q.Offset,
				Detail: siblingDetail(q.Offset, h)}, &c.Unexpected, p.maxListed)
		case k == trace.Native:
			c.Native++
		case h.Offset >= p.src.Until:
			c.AfterSnapshot++
		default:
			c.Copies++
			if first, exact, _ := p.m.Lookup(h.Offset); exact {
				addProblem(res, Problem{Kind: KindDuplicate, SourceOffset: h.Offset, TargetOffset: q.Offset, OtherTargetOffset: first,
					Detail: fmt.Sprintf("source offset %d is copied twice: at target offsets %d and %d", h.Offset, first, q.Offset)}, &c.Duplicates, p.maxListed)
			} else {
				addProblem(res, Problem{Kind: KindUnexpected, SourceOffset: h.Offset, TargetOffset: q.Offset,
					Detail: fmt.Sprintf("target offset %d, after the last mapped copy, is a copy of source offset %d, which the offset map does not know", q.Offset, h.Offset)}, &c.Unexpected, p.maxListed)
			}
		}
	}
}

// deletedOnTarget counts (and lists, while there is room) the mapped
// copies of the verified source range that lie below the target's log
// start: gaps, found from the map without reading.
func (v *Verifier) deletedOnTarget(p *partition, res *PartitionReport) {
	for _, r := range p.m.Since(p.src.From) {
		if r.Source >= p.src.Until || r.Target >= p.tgt.From {
			break
		}
		n := min(r.Len, p.src.Until-r.Source, p.tgt.From-r.Target)
		for i := range n {
			if len(res.Problems) >= p.maxListed {
				res.Counts.Gaps += n - i
				res.Unlisted += n - i
				break
			}
			o, t := r.Source+i, r.Target+i
			addProblem(res, Problem{Kind: KindGap, SourceOffset: o, TargetOffset: -1, ExpectedTargetOffset: t,
				Detail: fmt.Sprintf("source offset %d has no copy on the target: the offset map puts it at target offset %d, below the target's log start %d (deleted on the target)", o, t, p.tgt.From)}, &res.Counts.Gaps, p.maxListed)
		}
	}
}

// mapped returns how many source offsets of src the map holds, and how many
// of their copies lie at or after the target offset tgtFrom.
func mapped(m *offsetmap.Map, src Range, tgtFrom int64) (records, onTarget int64) {
	for _, r := range m.Since(src.From) {
		if r.Source >= src.Until {
			break
		}
		n := min(r.Len, src.Until-r.Source)
		records += n
		onTarget += max(0, min(n, r.Target+n-tgtFrom))
	}
	return records, onTarget
}

// samplePoints returns n offsets spread evenly over r, the first and last
// included (every offset when r holds no more than n).
func samplePoints(r Range, n int) []int64 {
	span := r.Len()
	switch {
	case span == 0 || n <= 0:
		return nil
	case int64(n) >= span:
		out := make([]int64, 0, span)
		for o := r.From; o < r.Until; o++ {
			out = append(out, o)
		}
		return out
	case n == 1:
		return []int64{r.From}
	}
	out := make([]int64, 0, n)
	for i := range int64(n) {
		out = append(out, r.From+i*(span-1)/int64(n-1))
	}
	return out
}

// cursor reads one partition at increasing offsets, keeping the last
// fetch response: a broker returns whole record batches (up to a
// megabyte), so the samples that fall into the batch already read cost no
// fetch.
type cursor struct {
	f         *fetcher
	topic     string
	partition int32
	// recs are the committed records of [from, next), from the last
	// response.
	recs       []*kgo.Record
	from, next int64
}

func (f *fetcher) cursor(topic string, partition int32) *cursor {
	return &cursor{f: f, topic: topic, partition: partition, from: -1, next: -1}
}

// at returns the first committed record at or after offset o and before
// until, nil if there is none (or the partition no longer holds o).
func (c *cursor) at(ctx context.Context, o, until int64) (*kgo.Record, error) {
	for o < until {
		if o < c.from || o >= c.next {
			fp, next, err := c.f.fetch(ctx, c.topic, c.partition, o, sampleFetchBytes)
			if errors.Is(err, kerr.OffsetOutOfRange) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			if next <= o {
				return nil, nil // nothing readable at o
			}
			c.recs, c.from, c.next = fp.Records, o, next
		}
		i, _ := slices.BinarySearchFunc(c.recs, o, func(r *kgo.Record, o int64) int { return cmp.Compare(r.Offset, o) })
		if i < len(c.recs) {
			if r := c.recs[i]; r.Offset < until {
				return r, nil
			}
			return nil, nil
		}
		o = c.next
	}
	return nil, nil
}

// firstRecord returns the first source record at or after offset s and
// before the end of p's source range that the mirror copies, nil if none
// (or if the source deleted it meanwhile).
func firstRecord(ctx context.Context, c *cursor, p *partition, s int64) (*kgo.Record, error) {
	for o := s; o < p.src.Until; {
		r, err := c.at(ctx, o, p.src.Until)
		if r == nil || err != nil {
			return nil, err
		}
		if _, k, _ := trace.FromCluster(r.Headers, p.targetID); k == trace.Copy {
			o = r.Offset + 1
			continue
		}
		return r, nil
	}
	return nil, nil
}
