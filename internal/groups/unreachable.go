package groups

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// Unreachable natives
//
// A group's target position is one offset per partition: the group reads
// everything at and after it, nothing before. Records written natively on
// the target while the mirror still copied older source records lie
// between copies; those before the last copy the group already consumed
// (on the source) are behind any position that does not make the group
// re-read that copy. Migrate finds them, refuses by default and lets the
// user choose (NativeChoice); List's callers (plan, status) report them
// with an UnreachableFinder.

// NativeChoice is what Migrate does when natives lie before copies the
// group already consumed.
type NativeChoice string

// The choices. The zero value is NativesRefuse.
const (
	// NativesRefuse: commit nothing, return an *UnreachableError.
	NativesRefuse NativeChoice = "refuse"
	// NativesSkip: commit the exact position; the group never reads the
	// unreachable natives, which the result counts and names.
	NativesSkip NativeChoice = "skip"
	// NativesReread: commit the offset of the first unreachable native;
	// the group reads every native and re-reads the copies after it
	// (PartitionResult.Reread counts them).
	NativesReread NativeChoice = "reread"
)

// ParseNativeChoice reads refuse, skip or reread ("" is refuse).
func ParseNativeChoice(s string) (NativeChoice, error) {
	switch c := NativeChoice(s); c {
	case "", NativesRefuse:
		return NativesRefuse, nil
	case NativesSkip, NativesReread:
		return c, nil
	}
	return "", fmt.Errorf("%q is not one of refuse, skip, reread", s)
}

// ErrUnreachableNatives is the kind of an *UnreachableError: the position
// Migrate would commit never delivers some native target records.
var ErrUnreachableNatives = errors.New("native target records the group would never read")

// UnreachableError is Migrate's refusal to commit a position that skips
// native target records. It unwraps to its Kind (ErrUnreachableNatives).
type UnreachableError struct {
	Group string
	// Partitions are the partitions with unreachable natives.
	Partitions []PartitionResult
	Kind       error
	// Hint says what to do.
	Hint string
}

func (e *UnreachableError) Error() string {
	var n int64
	var where []string
	for _, p := range e.Partitions {
		n += p.Unreachable
		where = append(where, fmt.Sprintf("%s/%d: %d at %s", p.ToTopic, p.Partition, p.Unreachable, RangesText(p.UnreachableNatives, 5)))
	}
	return fmt.Sprintf("group %q: %d records written natively on the target lie before copies the group already consumed, and its new position would never deliver them (%s): %v; %s",
		e.Group, n, strings.Join(where, "; "), e.Kind, e.Hint)
}

// Unwrap lets errors.Is match the kind.
func (e *UnreachableError) Unwrap() error { return e.Kind }

// hintUnreachable is what to do about unreachable natives.
const hintUnreachable = "pass --unreachable-natives=reread to start at the first of them (the group re-reads the copies after it) or --unreachable-natives=skip to commit the exact position without them; next time start producers on the target only once kmigrate status says the mirror has no lag and the source is quiet"

// NativeRange is a run of consecutive target offsets holding records
// written natively on the target: [From, To).
type NativeRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// RangesText prints ranges as "12-16, 20", at most max of them.
func RangesText(rs []NativeRange, max int) string {
	var parts []string
	for i, r := range rs {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more ranges", len(rs)-max))
			break
		}
		if r.To-r.From == 1 {
			parts = append(parts, fmt.Sprintf("offset %d", r.From))
		} else {
			parts = append(parts, fmt.Sprintf("offsets %d-%d", r.From, r.To-1))
		}
	}
	return strings.Join(parts, ", ")
}

// below returns the ranges cut to offsets below to, and how many offsets
// they hold.
func below(rs []NativeRange, to int64) ([]NativeRange, int64) {
	var out []NativeRange
	var n int64
	for _, r := range rs {
		if r.From >= to {
			break
		}
		r.To = min(r.To, to)
		out = append(out, r)
		n += r.To - r.From
	}
	return out, n
}

// ReachBound is, for the translation r of a committed offset in partition
// p, one past the last copy the group consumed: natives below it cannot be
// reached from the translated position without re-reading that copy. -1
// when it does not apply (not yet mirrored).
func ReachBound(p Partition, r Result) int64 {
	switch r.Kind {
	case End:
		return r.Offset
	case Exact, NextCopied, Expired:
		if p.Map == nil {
			return 0
		}
		if b, ok := p.Map.Before(r.Offset); ok {
			return b + 1
		}
		return 0
	}
	return -1
}

// gapNatives reads the stretches of topic/partition below to that the
// offset map m does not cover (the gaps between copies: commit markers,
// aborted records, natives) and returns the committed records there as
// ranges. Stretches the map covers hold copies only and are not read
// where a response does not cover them anyway: one fetch from a gap
// covers every gap up to where its response ends, so the cost is at most
// one fetch per gap and much less when gaps are close together. Records
// below the log start are gone and not counted.
//
// A record in a gap whose tracing header names src is a copy the map does
// not know: ErrMismatch.
func gapNatives(ctx context.Context, cl *kgo.Client, topic string, partition int32, m *offsetmap.Map, to int64, src SourcePartition) ([]NativeRange, error) {
	if m == nil {
		m = new(offsetmap.Map)
	}
	var gaps []NativeRange
	prev := int64(0)
	for _, r := range m.Runs() {
		if r.Target >= to {
			break
		}
		if r.Target > prev {
			gaps = append(gaps, NativeRange{From: prev, To: r.Target})
		}
		prev = r.TargetEnd()
	}
	if prev < to {
		gaps = append(gaps, NativeRange{From: prev, To: to})
	}
	if len(gaps) == 0 {
		return nil, nil
	}
	starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offset of %s: %w", topic, err)
	}
	pos := int64(0)
	if s, ok := starts.Lookup(topic, partition); ok {
		pos = s.Offset
	}
	rd := newPartReader(cl, topic, partition, 0)
	if err := rd.refreshLeader(ctx); err != nil {
		return nil, err
	}
	var out []NativeRange
	for _, g := range gaps {
		for lo := max(g.From, pos); lo < g.To; lo = pos {
			fp, next, err := rd.fetch(ctx, lo)
			if err != nil {
				return nil, fmt.Errorf("read %s/%d from offset %d: %w", topic, partition, lo, err)
			}
			for _, kr := range fp.Records {
				if kr.Offset < lo || kr.Offset >= to {
					continue
				}
				if _, copied, _ := m.Reverse(kr.Offset); copied {
					continue
				}
				o, found, err := trace.FindRaw(kr.Headers)
				if err != nil {
					return nil, fmt.Errorf("%s/%d: offset %d: %w: %w", topic, partition, kr.Offset, ErrCorruptHeader, err)
				}
				if found && o.Partition == src.Partition && string(o.Topic) == src.Topic && string(o.ClusterID) == src.ClusterID {
					return nil, fmt.Errorf("%s/%d: offset %d holds the copy of source offset %d, which the offset map does not place there: %w; was the target topic recreated?",
						topic, partition, kr.Offset, o.Offset, ErrMismatch)
				}
				if n := len(out); n > 0 && out[n-1].To == kr.Offset {
					out[n-1].To++
				} else {
					out = append(out, NativeRange{From: kr.Offset, To: kr.Offset + 1})
				}
			}
			if next <= lo {
				return out, nil // the end of what is readable
			}
			pos = next
		}
	}
	return out, nil
}

// UnreachableFinder fills in the unreachable natives of the groups List
// reports (plan, status): for each mirrored partition it reads the gaps of
// the target partition once (gapNatives), below the end of the copies, and
// counts for each group the natives below its reach bound. It only reads.
type UnreachableFinder struct {
	tgt      *kgo.Client
	sourceID string
	snap     *state.Snapshot
	natives  map[state.TopicPartition][]NativeRange
	parts    map[state.TopicPartition]Partition
}

// NewUnreachableFinder returns a finder over the target client tgt and the
// migration state snap; sourceID is the source cluster's id.
func NewUnreachableFinder(tgt *kgo.Client, sourceID string, snap *state.Snapshot) *UnreachableFinder {
	return &UnreachableFinder{tgt: tgt, sourceID: sourceID, snap: snap,
		natives: map[state.TopicPartition][]NativeRange{}, parts: map[state.TopicPartition]Partition{}}
}

// Fill sets the Unreachable count and natives of each translated partition
// of g and, when there are any, adds a reason: Migrate refuses such a
// position unless the user chooses.
func (f *UnreachableFinder) Fill(ctx context.Context, g *GroupInfo) error {
	if f.snap == nil || f.snap.Meta == nil {
		return nil
	}
	for i := range g.Topics {
		t := &g.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if !t.Mirrored || p.Translation == nil || p.Translation.Kind == NotYetMirrored.String() {
				continue
			}
			tp := state.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			part, ok := f.parts[tp]
			if !ok {
				var err error
				if part, err = FromSnapshot(f.snap, tp); err != nil {
					return err
				}
				f.parts[tp] = part
			}
			r, err := Translate(part, p.Committed)
			if err != nil {
				return fmt.Errorf("translate %s: %w", tp, err)
			}
			if p.Translation.UnreachableNatives, p.Translation.Unreachable, err = f.Below(ctx, tp, t.Target, ReachBound(part, r)); err != nil {
				return fmt.Errorf("group %q: %w", g.Group, err)
			}
			if n := p.Translation.Unreachable; n > 0 {
				g.Reasons = append(g.Reasons, fmt.Sprintf("%d records written natively on the target in %s/%d (%s) lie before copies the group already consumed: its translated position would never deliver them; choose with kmigrate groups migrate --unreachable-natives=reread or skip",
					n, t.Target, p.Partition, RangesText(p.Translation.UnreachableNatives, 5)))
				g.Migratable = false
			}
		}
	}
	return nil
}

// Below returns the records written natively on target partition
// targetTopic/tp.Partition, among the copies of source partition tp, below
// offset to (a ReachBound, or a group's committed target offset), and how
// many there are. The partition's gaps are read once per finder, up to the
// end of its copies.
func (f *UnreachableFinder) Below(ctx context.Context, tp state.TopicPartition, targetTopic string, to int64) ([]NativeRange, int64, error) {
	if to <= 0 || f.snap == nil {
		return nil, 0, nil
	}
	all, ok := f.natives[tp]
	if !ok {
		part, ok := f.parts[tp]
		if !ok {
			var err error
			if part, err = FromSnapshot(f.snap, tp); err != nil {
				return nil, 0, err
			}
			f.parts[tp] = part
		}
		end := int64(0)
		if part.Map != nil {
			end = part.Map.TargetEnd()
		}
		src := SourcePartition{ClusterID: f.sourceID, Topic: tp.Topic, Partition: tp.Partition}
		var err error
		if all, err = gapNatives(ctx, f.tgt, targetTopic, tp.Partition, part.Map, end, src); err != nil {
			return nil, 0, err
		}
		f.natives[tp] = all
	}
	rs, n := below(all, to)
	return rs, n, nil
}
