package groups

import (
	"errors"
	"fmt"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Kind says how a committed offset was translated. See the package
// documentation for what each kind promises about the first record a
// consumer receives.
type Kind uint8

// The kinds of translation.
const (
	// Exact: the record at the committed offset was copied; Offset is its
	// copy.
	Exact Kind = iota + 1
	// NextCopied: the committed offset held no copied record (a compaction
	// gap, a transaction marker, an aborted record); Offset is the copy of
	// the first copied record after it.
	NextCopied
	// End: every copied record lies before the committed offset (a caught
	// up group); Offset is the end of the mirrored data, one past the last
	// copied record (0 when nothing was copied).
	End
	// Expired: the committed offset held no copied record and the group
	// loses records: it lies in a range that expired from the source
	// before the mirror reached it (state.Expired), or before the first
	// copied record (that range was never copied: it expired, the mirror
	// started later, or compaction emptied it). Offset is the copy of the
	// next copied record; Result.Skipped counts the source offsets in
	// between, for the caller to report.
	Expired
	// NotYetMirrored: the committed offset is beyond what the mirror has
	// handled (past Checkpoint.Next): records the group has consumed are
	// not on the target yet. Offset is meaningless (-1); the caller waits
	// for the mirror and translates again.
	NotYetMirrored
	// Timestamp: not a translation but the approximate reset of
	// --to-timestamp (MigrateOptions.ToTimestamp): the first target
	// record at or after a time.
	Timestamp
)

func (k Kind) String() string {
	switch k {
	case Exact:
		return "exact"
	case NextCopied:
		return "next-copied"
	case End:
		return "end"
	case Expired:
		return "expired"
	case NotYetMirrored:
		return "not-yet-mirrored"
	case Timestamp:
		return "timestamp"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText makes a Kind its name in JSON reports.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a Kind's name, as MarshalText writes it.
func (k *Kind) UnmarshalText(b []byte) error {
	for c := Exact; c <= Timestamp; c++ {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("unknown translation kind %q", b)
}

// Result is a translated offset.
type Result struct {
	Kind Kind
	// Offset is the translated offset on the other cluster: the offset
	// to commit there. -1 for NotYetMirrored.
	Offset int64
	// Skipped is, for Expired, the number of offsets between the
	// committed offset and the first copied record, which the group
	// will never see; 0 otherwise.
	Skipped int64
	// Fetches is the number of fetch requests Search sent; 0 for
	// Translate and TranslateBack.
	Fetches int
}

// Errors of Translate, TranslateBack and Search. Test with errors.Is.
var (
	// ErrOffset: the committed offset is negative (Kafka's "no offset" is
	// -1: there is nothing to translate).
	ErrOffset = errors.New("invalid committed offset")
	// ErrInconsistent: the offset map reaches beyond the checkpoint. Both
	// are written in the same transaction, so they come from different
	// states (or different partitions).
	ErrInconsistent = errors.New("offset map and checkpoint disagree")
	// ErrNoMapping: TranslateBack was given an empty map: nothing was
	// copied, so no target offset corresponds to a source offset.
	ErrNoMapping = errors.New("no records mirrored")
)

// Partition is what the state topic holds about one mirrored source
// partition: the input of Translate.
type Partition struct {
	// Map is the partition's offset map; nil is an empty map.
	Map *offsetmap.Map
	// Checkpoint says how far the partition has been handled.
	Checkpoint state.Checkpoint
	// Expired are the ranges deleted from the source before they could
	// be copied.
	Expired []state.Expired
}

// FromSnapshot returns the state of source partition tp in snap, decoding
// its offset map. A partition the snapshot knows nothing about has an empty
// map and a zero checkpoint.
func FromSnapshot(snap *state.Snapshot, tp state.TopicPartition) (Partition, error) {
	m, err := offsetmap.LoadPersisted(snap.Segments[tp])
	if err != nil {
		return Partition{}, fmt.Errorf("offset map of %s: %w", tp, err)
	}
	return Partition{Map: m, Checkpoint: snap.Checkpoints[tp], Expired: snap.Expired[tp]}, nil
}

// Translate translates the committed source offset c of one partition to
// the target, from the partition's state p. It is pure: p comes from the
// state topic (see FromSnapshot), so any machine can translate.
//
// In order:
//
//   - c < 0: ErrOffset.
//   - the map reaches past the checkpoint: ErrInconsistent.
//   - c > Checkpoint.Next: NotYetMirrored. (c == Checkpoint.Next is caught
//     up: every offset below it was handled.)
//   - the map is empty (every offset below Checkpoint.Next was not
//     copyable, or nothing was copied yet): End, Offset 0.
//   - c mapped: Exact.
//   - c >= the map's source end: End, Offset = Map.TargetEnd().
//   - c not mapped, with a mapped offset after it: the target of the next
//     mapped offset n, and Expired with Skipped = n - c if c lies in an
//     expired range, or before the first mapped offset and before where
//     the mirror began (Checkpoint.Start; unknown counts as before), else
//     NextCopied (a gap the mirror read past: compaction, markers).
func Translate(p Partition, c int64) (Result, error) {
	if c < 0 {
		return Result{}, fmt.Errorf("translate offset %d: %w", c, ErrOffset)
	}
	m := p.Map
	if m == nil {
		m = new(offsetmap.Map)
	}
	if end := m.SourceEnd(); end > p.Checkpoint.Next {
		return Result{}, fmt.Errorf("translate offset %d: map ends at source offset %d, checkpoint at %d: %w", c, end, p.Checkpoint.Next, ErrInconsistent)
	}
	if c > p.Checkpoint.Next {
		return Result{Kind: NotYetMirrored, Offset: -1}, nil
	}
	first, ok := m.First()
	if !ok {
		return Result{Kind: End, Offset: 0}, nil
	}
	target, exact, _ := m.Lookup(c)
	switch {
	case exact:
		return Result{Kind: Exact, Offset: target}, nil
	case c >= m.SourceEnd():
		return Result{Kind: End, Offset: target}, nil
	}
	next, _, _ := m.Reverse(target)
	// Before the first copied record, c is a gap the mirror read past
	// (compaction, markers, aborted records) when the mirror began at or
	// before it; otherwise records there were never copied.
	return gap(c, next, target, c < first.Source && beforeStart(c, p.Checkpoint), p.Expired), nil
}

// beforeStart reports whether c lies before where the mirror began its
// partition, or the checkpoint does not say (state from before kmigrate
// recorded it).
func beforeStart(c int64, cp state.Checkpoint) bool {
	return cp.Start == nil || c < *cp.Start
}

// gap is the result for a committed offset c that held no copied record,
// when the next copied record is source offset next, copied to target.
// before says that no record before c was copied.
func gap(c, next, target int64, before bool, expired []state.Expired) Result {
	if before || inExpired(c, expired) {
		return Result{Kind: Expired, Offset: target, Skipped: next - c}
	}
	return Result{Kind: NextCopied, Offset: target}
}

func inExpired(c int64, expired []state.Expired) bool {
	for _, e := range expired {
		if c >= e.From && c < e.Until {
			return true
		}
	}
	return false
}

// TranslateBack translates a committed target offset t back to the source,
// for a rollback, as offsetmap.Map.Reverse does: Exact when t holds a
// copied record; NextCopied when t holds none (one of kmigrate's commit
// markers, a record written natively on the target, or any offset before
// the first copy): the source offset of the next copied record; End at or
// after the end of the mirrored data: the map's source end.
//
// It does not yet account for what a rollback must also handle: records
// written natively on the target after t, which the source never had.
// ErrNoMapping for an empty map, ErrOffset for t < 0.
func TranslateBack(m *offsetmap.Map, t int64) (Result, error) {
	if t < 0 {
		return Result{}, fmt.Errorf("translate back offset %d: %w", t, ErrOffset)
	}
	if m == nil || m.Len() == 0 {
		return Result{}, fmt.Errorf("translate back offset %d: %w", t, ErrNoMapping)
	}
	source, exact, _ := m.Reverse(t)
	switch {
	case exact:
		return Result{Kind: Exact, Offset: source}, nil
	case t >= m.TargetEnd():
		return Result{Kind: End, Offset: source}, nil
	}
	return Result{Kind: NextCopied, Offset: source}, nil
}
