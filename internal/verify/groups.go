package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
)

// checkGroups reports, for each selected source group, where it will
// resume on the target in each mirrored partition and whether that is the
// translation of its source position (groups.Translate over the state's
// offset map). A group with no committed offset on a mirrored target topic
// has not been migrated and is reported as such.
func (v *Verifier) checkGroups(ctx context.Context) ([]GroupReport, error) {
	srcAdm, tgtAdm := kadm.NewClient(v.h.Source()), kadm.NewClient(v.h.Target())
	names, err := groups.Selected(ctx, srcAdm, v.h.Config().Groups.Selection)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	out := []GroupReport{}
	if len(names) == 0 {
		return out, nil
	}
	_, targets := v.topics()
	sources := map[string]string{}
	for s, t := range targets {
		sources[t] = s
	}
	srcOffs := srcAdm.FetchManyOffsets(ctx, names...)
	tgtOffs := tgtAdm.FetchManyOffsets(ctx, names...)
	identity := map[string]string{}
	for s := range targets {
		identity[s] = s
	}
	parts := map[state.TopicPartition]groups.Partition{}
	finder := groups.NewUnreachableFinder(v.h.Target(), v.h.SourceID(), v.snap, nil)
	for _, name := range names {
		g := GroupReport{Group: name, Partitions: []GroupPartition{}}
		pos := map[state.TopicPartition]*GroupPartition{}
		get := func(tp state.TopicPartition) *GroupPartition {
			if pos[tp] == nil {
				pos[tp] = &GroupPartition{Topic: tp.Topic, Partition: tp.Partition, TargetTopic: targets[tp.Topic], SourceOffset: -1, TargetOffset: -1, Translation: -1}
			}
			return pos[tp]
		}
		var errs []error
		onTarget := false
		collect := func(f kadm.FetchOffsetsResponse, side string, topicOf map[string]string, set func(*GroupPartition, int64)) {
			if f.Err != nil && !errors.Is(f.Err, kerr.GroupIDNotFound) {
				errs = append(errs, fmt.Errorf("%s offsets: %w", side, f.Err))
			}
			f.Fetched.Each(func(o kadm.OffsetResponse) {
				src, ok := topicOf[o.Topic]
				switch {
				case !ok:
				case o.Err != nil:
					errs = append(errs, fmt.Errorf("%s offsets of %s/%d: %w", side, o.Topic, o.Partition, o.Err))
				case o.At >= 0:
					set(get(state.TopicPartition{Topic: src, Partition: o.Partition}), o.At)
				}
			})
		}
		collect(srcOffs[name], "source", identity, func(p *GroupPartition, at int64) { p.SourceOffset = at })
		collect(tgtOffs[name], "target", sources, func(p *GroupPartition, at int64) { p.TargetOffset = at; onTarget = true })
		switch {
		case len(errs) > 0:
			g.Status, g.Error = GroupError, errors.Join(errs...).Error()
		case !onTarget:
			g.Status = GroupNotMigrated
		default:
			g.Status = GroupOK
			for tp, p := range pos {
				part, ok := parts[tp]
				if !ok {
					if part, err = groups.FromSnapshot(v.snap, tp); err != nil {
						return nil, err
					}
					parts[tp] = part
				}
				judge(p, part)
				if err := unreachable(ctx, finder, p, tp, part); err != nil {
					p.Status, p.Detail = PositionError, err.Error()
				}
				if p.Status == PositionBehind || p.Status == PositionMissing || p.Status == PositionError {
					g.Status = GroupFailed
				}
				g.Partitions = append(g.Partitions, *p)
			}
			slices.SortFunc(g.Partitions, func(a, b GroupPartition) int {
				return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
			})
		}
		out = append(out, g)
	}
	return out, nil
}

// judge sets p's translation and status: where the group resumes on the
// target compared with where it should.
func judge(p *GroupPartition, part groups.Partition) {
	if p.SourceOffset < 0 {
		p.Status = PositionTargetOnly
		p.Detail = "committed on the target only"
		return
	}
	tr, err := groups.Translate(part, p.SourceOffset)
	if err != nil {
		p.Status, p.Detail = PositionError, fmt.Sprintf("cannot translate source offset %d: %v", p.SourceOffset, err)
		return
	}
	p.Kind = tr.Kind
	if tr.Kind == groups.NotYetMirrored {
		p.Status = PositionNotYetMirrored
		p.Detail = fmt.Sprintf("source offset %d is past the mirror's checkpoint (%d) at the snapshot", p.SourceOffset, part.Checkpoint.Next)
		return
	}
	p.Translation = tr.Offset
	if tr.Skipped > 0 {
		p.Detail = fmt.Sprintf("%d expired source offsets skipped", tr.Skipped)
	}
	m := part.Map
	if m == nil {
		m = new(offsetmap.Map)
	}
	switch t := p.TargetOffset; {
	case t < 0:
		p.Status = PositionMissing
		p.Detail = "the group has offsets on the target, but none for this partition: it would start from its offset reset policy"
	case t == tr.Offset:
		p.Status = PositionOK
	case t > tr.Offset:
		p.Status = PositionAdvanced
		p.Detail = fmt.Sprintf("consumed %d offsets past the translation on the target", t-tr.Offset)
	default:
		before, ok := m.Before(tr.Offset)
		if !ok || t > before {
			p.Status = PositionNativeFirst
			p.Detail = fmt.Sprintf("reads target offsets %d to %d first, which hold no copy (records written on the target, markers)", t, tr.Offset-1)
			return
		}
		p.Status = PositionBehind
		p.Detail = fmt.Sprintf("would re-read %d copies already consumed on the source (target offsets %d to %d)", copiesIn(m, t, tr.Offset), t, tr.Offset-1)
	}
}

// copiesIn counts the mapped target offsets in [from, until).
func copiesIn(m *offsetmap.Map, from, until int64) int64 {
	var n int64
	for _, r := range m.Runs() {
		lo, hi := max(r.Target, from), min(r.TargetEnd(), until)
		if hi > lo {
			n += hi - lo
		}
	}
	return n
}

// unreachable adds to p's detail the records written natively on the
// target that the group's target position never delivers: those below
// both its position and the end of the copies it consumed on the source
// (groups.ReachBound of its translation). A group moved with
// --unreachable-natives=reread sits at the first of them and has none; one
// moved with skip has them all. (A group that consumed on the target since
// may have read some of them from an earlier position; its current one
// does not deliver them.)
func unreachable(ctx context.Context, f *groups.UnreachableFinder, p *GroupPartition, tp state.TopicPartition, part groups.Partition) error {
	if p.SourceOffset < 0 || p.TargetOffset < 0 || p.Translation < 0 {
		return nil
	}
	tr, err := groups.Translate(part, p.SourceOffset)
	if err != nil {
		return nil // judge reported it
	}
	rs, n, err := f.Below(ctx, tp, p.TargetTopic, min(p.TargetOffset, groups.ReachBound(part, tr)))
	if err != nil || n == 0 {
		return err
	}
	d := fmt.Sprintf("%d records written natively on the target (%s) lie before copies the group consumed: its position never delivers them", n, groups.RangesText(rs, 10))
	if p.Detail != "" {
		d = p.Detail + "; " + d
	}
	p.Detail = d
	return nil
}
