package offsetmap

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Errors of Add and AddRun (and of Load, for persisted runs). Test with
// errors.Is.
var (
	// ErrOrder: offsets do not increase on both sides.
	ErrOrder = errors.New("offsets not increasing")
	// ErrRange: a negative offset, a run shorter than one record, or an end
	// offset beyond what an int64 holds.
	ErrRange = errors.New("offset out of range")
)

// Run says that source offsets [Source, Source+Len) were copied to target
// offsets [Target, Target+Len), one to one and in order.
type Run struct {
	Source int64 // first source offset
	Target int64 // target offset of the record at Source
	Len    int64 // number of records, >= 1
}

// SourceEnd is one past the last source offset of r.
func (r Run) SourceEnd() int64 { return r.Source + r.Len }

// TargetEnd is one past the last target offset of r.
func (r Run) TargetEnd() int64 { return r.Target + r.Len }

// validate checks what holds for every run on its own: offsets not
// negative, a length of at least one, ends that fit an int64.
func (r Run) validate() error {
	switch {
	case r.Source < 0 || r.Target < 0:
		return fmt.Errorf("run %d->%d (len %d): negative offset: %w", r.Source, r.Target, r.Len, ErrRange)
	case r.Len < 1:
		return fmt.Errorf("run %d->%d (len %d): length below 1: %w", r.Source, r.Target, r.Len, ErrRange)
	case r.Len > math.MaxInt64-r.Source || r.Len > math.MaxInt64-r.Target:
		return fmt.Errorf("run %d->%d (len %d): end overflows int64: %w", r.Source, r.Target, r.Len, ErrRange)
	}
	return nil
}

// Map is the offset mapping of one partition: which source offsets were
// copied to which target offsets. The zero value is an empty map ready to
// use. A Map is not safe for concurrent use; Clone it to hand a snapshot to
// another goroutine.
//
// The runs are kept maximal (two runs that are consecutive on both sides
// are merged) and strictly increasing on both sides, so lookups in either
// direction are binary searches.
type Map struct {
	runs    []Run
	records int64
}

// Add records that the source record at offset source was copied to offset
// target. Both must be greater than every offset added before (otherwise Add
// returns an error wrapping ErrOrder), not negative, and below MaxInt64
// (ErrRange); on error the map is unchanged. Add extends the
// last run when both offsets follow it directly, which does not allocate.
func (m *Map) Add(source, target int64) error {
	if n := len(m.runs); n > 0 {
		last := &m.runs[n-1]
		if source == last.SourceEnd() && target == last.TargetEnd() {
			if source == math.MaxInt64 || target == math.MaxInt64 {
				return fmt.Errorf("add %d->%d: %w", source, target, ErrRange)
			}
			last.Len++
			m.records++
			return nil
		}
		if source < last.SourceEnd() || target < last.TargetEnd() {
			return fmt.Errorf("add %d->%d after %d->%d: %w",
				source, target, last.SourceEnd()-1, last.TargetEnd()-1, ErrOrder)
		}
	}
	r := Run{Source: source, Target: target, Len: 1}
	if err := r.validate(); err != nil {
		return fmt.Errorf("add %d->%d: %w", source, target, ErrRange)
	}
	m.runs = append(m.runs, r)
	m.records++
	return nil
}

// AddRun adds a run of mappings at once, as when loading persisted runs. The
// same ordering rules as for Add apply; a run that directly follows the last
// one on both sides is merged into it.
func (m *Map) AddRun(r Run) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("add %w", err)
	}
	if n := len(m.runs); n > 0 {
		last := &m.runs[n-1]
		if r.Source < last.SourceEnd() || r.Target < last.TargetEnd() {
			return fmt.Errorf("add run %d->%d (len %d) after %d->%d: %w",
				r.Source, r.Target, r.Len, last.SourceEnd()-1, last.TargetEnd()-1, ErrOrder)
		}
		if r.Source == last.SourceEnd() && r.Target == last.TargetEnd() {
			last.Len += r.Len
			m.records += r.Len
			return nil
		}
	}
	m.runs = append(m.runs, r)
	m.records += r.Len
	return nil
}

// Runs returns a copy of the runs, in order.
func (m *Map) Runs() []Run { return append([]Run(nil), m.runs...) }

// Len is the number of runs.
func (m *Map) Len() int { return len(m.runs) }

// Records is the number of mapped records (the sum of the run lengths).
func (m *Map) Records() int64 { return m.records }

// First returns the first run; ok is false for an empty map. A source offset
// before First().Source was never copied: a consumer translated from there
// would skip the records in between (Lookup does not report that, callers
// that care compare with First).
func (m *Map) First() (r Run, ok bool) {
	if len(m.runs) == 0 {
		return Run{}, false
	}
	return m.runs[0], true
}

// Last returns the last run; ok is false for an empty map.
func (m *Map) Last() (r Run, ok bool) {
	if len(m.runs) == 0 {
		return Run{}, false
	}
	return m.runs[len(m.runs)-1], true
}

// SourceEnd is one past the last mapped source offset, 0 for an empty map.
func (m *Map) SourceEnd() int64 {
	if len(m.runs) == 0 {
		return 0
	}
	return m.runs[len(m.runs)-1].SourceEnd()
}

// TargetEnd is one past the last mapped target offset, 0 for an empty map.
func (m *Map) TargetEnd() int64 {
	if len(m.runs) == 0 {
		return 0
	}
	return m.runs[len(m.runs)-1].TargetEnd()
}

// Lookup translates a source offset to a target offset, the way a consumer
// position is translated:
//
//   - if the record at source was copied: its target offset, exact = true;
//   - otherwise (source is before the first mapped offset or in a gap: a
//     compacted record, a transaction marker, an aborted record): the target
//     offset of the first copied record after source, which is the first
//     record a consumer resuming at source would receive; exact = false;
//   - if source >= SourceEnd: TargetEnd, exact = false (a consumer that has
//     read everything mirrored resumes at the end of the mirrored data).
//
// ok is false only for an empty map. Lookup is a binary search over the
// runs.
func (m *Map) Lookup(source int64) (target int64, exact, ok bool) {
	if len(m.runs) == 0 {
		return 0, false, false
	}
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].SourceEnd() > source })
	if i == len(m.runs) {
		return m.TargetEnd(), false, true
	}
	r := m.runs[i]
	if source < r.Source {
		return r.Target, false, true
	}
	return r.Target + (source - r.Source), true, true
}

// Reverse is Lookup in the other direction, for rolling consumers back to
// the source: the source offset of the record at target, exact = true; if
// target holds no mapped record (one of our transaction markers, a record
// written natively on the target), the source offset of the next mapped
// record after it, exact = false; SourceEnd at or past TargetEnd. ok is
// false only for an empty map.
func (m *Map) Reverse(target int64) (source int64, exact, ok bool) {
	if len(m.runs) == 0 {
		return 0, false, false
	}
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].TargetEnd() > target })
	if i == len(m.runs) {
		return m.SourceEnd(), false, true
	}
	r := m.runs[i]
	if target < r.Target {
		return r.Source, false, true
	}
	return r.Source + (target - r.Target), true, true
}

// Before returns the highest mapped target offset below target, or ok =
// false when no mapped record lies before it. Migrate uses it to find where
// a group's consumed copies end: everything between that and the next copy
// is markers, aborted records or records written natively on the target.
func (m *Map) Before(target int64) (int64, bool) {
	j := sort.Search(len(m.runs), func(j int) bool { return m.runs[j].Target >= target })
	if j == 0 {
		return 0, false
	}
	return min(m.runs[j-1].TargetEnd(), target) - 1, true
}

// Since returns the runs that cover source offsets >= source, the first one
// cut to start at source if source falls inside it. The result is a copy.
func (m *Map) Since(source int64) []Run {
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].SourceEnd() > source })
	return clipFrom(append([]Run(nil), m.runs[i:]...), source)
}

// clipFrom cuts runs[0] to start at source if it starts before. runs must
// be a copy: it is modified.
func clipFrom(runs []Run, source int64) []Run {
	if len(runs) > 0 && runs[0].Source < source {
		d := source - runs[0].Source
		runs[0] = Run{Source: source, Target: runs[0].Target + d, Len: runs[0].Len - d}
	}
	return runs
}

// Clone returns an independent copy of m.
func (m *Map) Clone() *Map {
	return &Map{runs: append([]Run(nil), m.runs...), records: m.records}
}

// truncate restores the map to an earlier state of itself: its first n
// runs, the last of them with length lastLen. (Runs only ever grow at the
// end, so this undoes every Add since that state.)
func (m *Map) truncate(n int, lastLen int64) {
	for _, r := range m.runs[n:] {
		m.records -= r.Len
	}
	m.runs = m.runs[:n]
	if n > 0 {
		m.records -= m.runs[n-1].Len - lastLen
		m.runs[n-1].Len = lastLen
	}
}
