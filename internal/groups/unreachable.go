package groups

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
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

// ErrOpenTransaction: a transaction written natively on the target is
// open below the end of the copies, so the records a group would skip
// cannot all be read yet.
var ErrOpenTransaction = errors.New("a transaction is open on the target partition")

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

// gapNatives reads the stretches of topic/partition in [from, to) that the
// offset map m does not cover (the gaps between copies: commit markers,
// aborted records, natives) and returns the committed records there as
// ranges. Stretches the map covers hold copies only and are not read
// where a response does not cover them anyway: one fetch from a gap
// covers every gap up to where its response ends, so the cost is at most
// one fetch per gap and much less when gaps are close together. Records
// below the log start are gone and not counted.
//
// A record in a gap whose tracing header names src is a copy the map does
// not know: ErrMismatch. A read that ends below to (the last stable offset
// is there: a transaction written natively on the target is still open,
// and its records may yet become committed natives) is ErrOpenTransaction.
func gapNatives(ctx context.Context, cl *kgo.Client, topic string, partition int32, m *offsetmap.Map, from, to int64, src SourcePartition) ([]NativeRange, error) {
	if m == nil {
		m = new(offsetmap.Map)
	}
	var gaps []NativeRange
	prev := from
	for _, r := range m.Runs() {
		if r.TargetEnd() <= from {
			continue
		}
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
	pos := from
	if s, ok := starts.Lookup(topic, partition); ok {
		pos = max(pos, s.Offset)
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
				o, k, err := trace.Of(kr.Headers, src)
				switch k {
				case trace.Corrupt:
					return nil, fmt.Errorf("%s/%d: offset %d: %w: %w", topic, partition, kr.Offset, ErrCorruptHeader, err)
				case trace.Copy:
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
				return nil, fmt.Errorf("%s/%d: records from offset %d on are not readable yet (below offset %d, the end of the copies): %w; retry once it ends",
					topic, partition, lo, to, ErrOpenTransaction)
			}
			pos = next
		}
	}
	return out, nil
}
