package offsets

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Position is an offset in one partition: what an application stored
// (the next record it will read, as a Kafka committed offset).
type Position struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

func (p Position) String() string { return fmt.Sprintf("%s/%d@%d", p.Topic, p.Partition, p.Offset) }

// Answer is one translated position.
type Answer struct {
	// From is the position given (on the source; on the target with
	// Reverse).
	From Position `json:"from"`
	// ToTopic and To are the topic and offset to resume at on the other
	// cluster; To is -1 for not-yet-mirrored.
	ToTopic string `json:"to_topic"`
	To      int64  `json:"to"`
	// Kind is the groups.Kind by name (exact, next-copied, end, expired,
	// not-yet-mirrored).
	Kind string `json:"kind"`
	// Skipped counts, for expired, the source offsets the application
	// will never see.
	Skipped int64 `json:"skipped,omitempty"`
	// Native counts records written natively on the target between the
	// last copy the application consumed and the copy of its next
	// record: To is the first of them, so it reads them first.
	Native int64 `json:"native,omitempty"`
	// Unreachable counts natives before the last copy it consumed, which
	// the exact position never delivers; UnreachableNatives names them.
	// Reread counts, with groups.NativesReread, the copies read twice.
	Unreachable        int64                `json:"unreachable_natives,omitempty"`
	UnreachableNatives []groups.NativeRange `json:"unreachable_native_offsets,omitempty"`
	Reread             int64                `json:"reread_copies,omitempty"`
}

// Final says the answer is a position to resume at (everything but
// not-yet-mirrored).
func (a Answer) Final() bool { return a.Kind != groups.NotYetMirrored.String() }

// Errors of Translate. Test with errors.Is.
var (
	// ErrNotMigrated: the topic is not one of the migration's (with
	// Reverse: not one of its target topics).
	ErrNotMigrated = errors.New("topic is not part of the migration")
	// ErrUnreachable: natives lie before the last copy the application
	// consumed and no choice was made (it wraps
	// groups.ErrUnreachableNatives).
	ErrUnreachable = fmt.Errorf("choose --unreachable-natives=skip or reread: %w", groups.ErrUnreachableNatives)
)

// Options are a Translator's choices.
type Options struct {
	// Reverse translates target positions back to the source.
	Reverse bool
	// Natives is what to do about unreachable natives (forward only);
	// the zero value refuses.
	Natives groups.NativeChoice
}

// Translator answers from one reading of the migration's state.
type Translator struct {
	snap     *state.Snapshot
	tgt      *kgo.Client
	sourceID string
	o        Options
	finder   *groups.UnreachableFinder
	parts    map[state.TopicPartition]groups.Partition
	back     map[string]string // target topic -> source topic
}

// New reads the migration's state through h. It fails with
// migration.ErrNoState when there is none.
func New(ctx context.Context, h *migration.Handle, o Options) (*Translator, error) {
	snap, err := h.LoadState(ctx)
	if err == nil && snap.Meta == nil {
		err = fmt.Errorf("%w: the state topic holds no migration yet", migration.ErrNoState)
	}
	if err != nil {
		return nil, fmt.Errorf("read migration state: %w", err)
	}
	return FromSnapshot(snap, h.Target(), h.SourceID(), o), nil
}

// FromSnapshot answers from snap; tgt is a client to the target (the
// native records are read from it) and sourceID the source cluster's id.
func FromSnapshot(snap *state.Snapshot, tgt *kgo.Client, sourceID string, o Options) *Translator {
	t := &Translator{snap: snap, tgt: tgt, sourceID: sourceID, o: o,
		finder: groups.NewUnreachableFinder(tgt, sourceID, snap, groups.NewNativeCache()),
		parts:  map[state.TopicPartition]groups.Partition{}, back: map[string]string{}}
	for s, tt := range snap.Meta.Topics {
		t.back[tt] = s
	}
	return t
}

// Translate translates one position. Per-position problems (a topic
// outside the migration, a negative offset, unreachable natives without a
// choice) are errors too; the Answer carries what is known.
func (t *Translator) Translate(ctx context.Context, p Position) (Answer, error) {
	if t.o.Reverse {
		return t.back1(p)
	}
	a := Answer{From: p, To: -1}
	to, ok := t.snap.Meta.Topics[p.Topic]
	if !ok {
		return a, fmt.Errorf("%s: %w", p, ErrNotMigrated)
	}
	a.ToTopic = to
	tp := state.TopicPartition{Topic: p.Topic, Partition: p.Partition}
	part, err := t.partition(tp)
	if err != nil {
		return a, err
	}
	r, err := groups.Translate(part, p.Offset)
	if err != nil {
		return a, fmt.Errorf("%s: %w", p, err)
	}
	a.Kind, a.To, a.Skipped = r.Kind.String(), r.Offset, r.Skipped
	bound := groups.ReachBound(part, r)
	if r.Kind == groups.NotYetMirrored || bound < 0 {
		return a, nil
	}
	// Natives in [bound, To): new to the application, read first.
	if r.Kind != groups.End && bound < a.To {
		all, _, err := t.finder.Below(ctx, tp, to, a.To)
		if err != nil {
			return a, fmt.Errorf("%s: %w", p, err)
		}
		if first, n := from(all, bound); n > 0 {
			a.Native, a.To = n, first
		}
	}
	// Natives below bound: never delivered from the exact position.
	a.UnreachableNatives, a.Unreachable, err = t.finder.Below(ctx, tp, to, bound)
	if err != nil {
		return a, fmt.Errorf("%s: %w", p, err)
	}
	if a.Unreachable == 0 {
		a.UnreachableNatives = nil
		return a, nil
	}
	switch t.o.Natives {
	case groups.NativesSkip:
	case groups.NativesReread:
		first := a.UnreachableNatives[0].From
		a.Reread = copiesIn(part, first, a.To)
		a.To = first
	default:
		return a, fmt.Errorf("%s: %d records written natively on %s/%d (%s) lie before copies already consumed: %w",
			p, a.Unreachable, to, p.Partition, groups.RangesText(a.UnreachableNatives, 5), ErrUnreachable)
	}
	return a, nil
}

// back1 translates a target position to the source.
func (t *Translator) back1(p Position) (Answer, error) {
	a := Answer{From: p, To: -1}
	src, ok := t.back[p.Topic]
	if !ok {
		return a, fmt.Errorf("%s: %w", p, ErrNotMigrated)
	}
	a.ToTopic = src
	part, err := t.partition(state.TopicPartition{Topic: src, Partition: p.Partition})
	if err != nil {
		return a, err
	}
	r, err := groups.TranslateBack(part.Map, p.Offset)
	if err != nil {
		return a, fmt.Errorf("%s: %w", p, err)
	}
	a.Kind, a.To = r.Kind.String(), r.Offset
	return a, nil
}

func (t *Translator) partition(tp state.TopicPartition) (groups.Partition, error) {
	if p, ok := t.parts[tp]; ok {
		return p, nil
	}
	p, err := groups.FromSnapshot(t.snap, tp)
	if err != nil {
		return groups.Partition{}, err
	}
	t.parts[tp] = p
	return p, nil
}

// from returns the first offset at or after bound among rs, and how many
// offsets of rs lie there.
func from(rs []groups.NativeRange, bound int64) (first, n int64) {
	first = -1
	for _, r := range rs {
		if r.To <= bound {
			continue
		}
		lo := max(r.From, bound)
		if first < 0 {
			first = lo
		}
		n += r.To - lo
	}
	return first, n
}

// copiesIn counts the copies (mapped target offsets) in [lo, hi).
func copiesIn(p groups.Partition, lo, hi int64) int64 {
	if p.Map == nil {
		return 0
	}
	var n int64
	for _, r := range p.Map.Runs() {
		n += max(0, min(r.TargetEnd(), hi)-max(r.Target, lo))
	}
	return n
}

// All translates ps in order, returning every answer and the positions'
// errors joined.
func (t *Translator) All(ctx context.Context, ps []Position) ([]Answer, error) {
	out := make([]Answer, 0, len(ps))
	var errs []error
	for _, p := range ps {
		a, err := t.Translate(ctx, p)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out = append(out, a)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// Sorted returns the migration's source topics (target topics with
// Reverse), sorted: what a caller may ask about.
func (t *Translator) Sorted() []string {
	var out []string
	if t.o.Reverse {
		for tt := range t.back {
			out = append(out, tt)
		}
	} else {
		for s := range t.snap.Meta.Topics {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
