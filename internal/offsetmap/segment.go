package offsetmap

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// ErrConflict is wrapped by Load's error when two versions of the same
// segment disagree: neither extends the other. Versions of one segment only
// grow, so this means the records were not all written by one consistent
// mirror (or aborted records were read: read with read_committed).
var ErrConflict = errors.New("conflicting versions of an offset map segment")

// Segment is a contiguous part of one partition's Map, persisted as one
// record: Key is the first source offset it covers (Runs[0].Source), the
// value is AppendEncoded(nil, Runs).
type Segment struct {
	Key  int64
	Runs []Run
}

// AppendValue appends the record value of s to dst.
func (s Segment) AppendValue(dst []byte) []byte { return AppendEncoded(dst, s.Runs) }

// sourceEnd is one past the last source offset in s.
func (s Segment) sourceEnd() int64 { return s.Runs[len(s.Runs)-1].SourceEnd() }

// DecodeSegments decodes a partition's persisted segment records, keyed by
// segment key, in any order (Load and NewSegmenter accept any order).
func DecodeSegments(persisted map[int64][]byte) ([]Segment, error) {
	segs := make([]Segment, 0, len(persisted))
	for key, value := range persisted {
		s, err := DecodeSegment(key, value)
		if err != nil {
			return nil, err
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// LoadPersisted rebuilds a partition's map from its persisted segment
// records as the state topic holds them (state.Snapshot.Segments[tp]):
// DecodeSegments then Load. nil or empty gives an empty map.
func LoadPersisted(persisted map[int64][]byte) (*Map, error) {
	segs, err := DecodeSegments(persisted)
	if err != nil {
		return nil, err
	}
	return Load(segs)
}

// DecodeSegment decodes a persisted segment record and checks that its
// first run starts at key. A segment with no runs is an error: kmigrate
// never writes one.
func DecodeSegment(key int64, value []byte) (Segment, error) {
	runs, err := Decode(value)
	if err != nil {
		return Segment{}, fmt.Errorf("segment %d: %w", key, err)
	}
	s := Segment{Key: key, Runs: runs}
	if err := s.check(); err != nil {
		return Segment{}, err
	}
	return s, nil
}

func (s Segment) check() error {
	if len(s.Runs) == 0 {
		return fmt.Errorf("%w: segment %d has no runs", ErrMalformed, s.Key)
	}
	if s.Runs[0].Source != s.Key {
		return fmt.Errorf("%w: segment %d starts at source offset %d", ErrMalformed, s.Key, s.Runs[0].Source)
	}
	return nil
}

// Load rebuilds one partition's Map from its persisted segments, given in
// any order. Several versions of the same segment (records with the same
// key, as a compacted topic holds them until it is compacted) are allowed:
// the version reaching furthest wins, and the others must be earlier states
// of it (else the error wraps ErrConflict). Segments of different keys must
// not overlap.
func Load(segments []Segment) (*Map, error) {
	m, _, err := load(segments)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// load is Load that also returns the key of the last segment (the open one).
func load(segments []Segment) (Map, int64, error) {
	for _, s := range segments {
		if err := s.check(); err != nil {
			return Map{}, 0, err
		}
	}
	// By key, then the furthest-reaching version first.
	sorted := slices.Clone(segments)
	slices.SortFunc(sorted, func(a, b Segment) int {
		if c := cmp.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return cmp.Compare(b.sourceEnd(), a.sourceEnd())
	})
	var m Map
	var winner Segment // the version in use of the current key
	for i, s := range sorted {
		if i > 0 && s.Key == winner.Key {
			if !isEarlierVersion(s.Runs, winner.Runs) {
				return Map{}, 0, fmt.Errorf("%w: segment %d", ErrConflict, s.Key)
			}
			continue
		}
		winner = s
		for _, r := range s.Runs {
			if err := m.AddRun(r); err != nil {
				return Map{}, 0, fmt.Errorf("segment %d: %w", s.Key, err)
			}
		}
	}
	return m, winner.Key, nil
}

// isEarlierVersion reports whether old is a state that cur grew from: the
// same runs, except that cur may have more and old's last run may be
// shorter (a run grows while its segment is open).
func isEarlierVersion(old, cur []Run) bool {
	if len(old) > len(cur) {
		return false
	}
	for i, r := range old {
		c := cur[i]
		if r.Source != c.Source || r.Target != c.Target || r.Len > c.Len ||
			(r.Len != c.Len && i != len(old)-1) {
			return false
		}
	}
	return true
}

// DefaultMaxRuns is the segment size NewSegmenter uses when given 0. A
// segment of 256 typical runs encodes in about 1 KiB.
const DefaultMaxRuns = 256

// MaxMaxRuns is the largest segment size NewSegmenter accepts: a run encodes
// in at most 30 bytes, so a segment stays under Kafka's default 1 MiB
// message size limit.
const MaxMaxRuns = 32 << 10

// Segmenter keeps one partition's Map and says which segment records must be
// written to persist it, so that the mirror can write them in the same
// transaction as the records they describe. See the package documentation
// for the protocol and its guarantees.
//
// A Segmenter is not safe for concurrent use.
type Segmenter struct {
	m       Map
	maxRuns int
	open    segStart   // the open (last) segment; idx -1 while the map is empty
	opened  []segStart // segments opened since the last Commit, in order
	done    watermark  // the state at the last Commit
}

// segStart is where a segment starts: the run holding its key.
type segStart struct {
	idx int   // index of the run holding key
	key int64 // the segment's first source offset
}

// watermark is a committed state; runs only grow at the end, so the number
// of runs and the length of the last one identify it.
type watermark struct {
	runs    int
	lastLen int64
	open    segStart
}

// NewSegmenter returns a Segmenter that continues from the persisted
// segments of a partition (none for a new partition; see Load for what is
// accepted), closing a segment once it holds maxRuns runs (0 means
// DefaultMaxRuns). The loaded state counts as committed.
func NewSegmenter(segments []Segment, maxRuns int) (*Segmenter, error) {
	switch {
	case maxRuns == 0:
		maxRuns = DefaultMaxRuns
	case maxRuns < 0 || maxRuns > MaxMaxRuns:
		return nil, fmt.Errorf("segment size %d runs: must be between 1 and %d", maxRuns, MaxMaxRuns)
	}
	m, lastKey, err := load(segments)
	if err != nil {
		return nil, err
	}
	s := &Segmenter{m: m, maxRuns: maxRuns, open: segStart{idx: -1}}
	if len(m.runs) > 0 {
		// The last segment's first run may have been merged into the run
		// before it (if another writer did not keep runs maximal); the
		// segment then starts inside that run, and Pending cuts it there.
		idx := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].SourceEnd() > lastKey })
		s.open = segStart{idx: idx, key: lastKey}
	}
	s.Commit()
	return s, nil
}

// Map returns the map being built. It is for reading (Lookup, Reverse and so
// on); add through the Segmenter, which otherwise does not see the change.
func (s *Segmenter) Map() *Map { return &s.m }

// Add records that source was copied to target, as Map.Add.
func (s *Segmenter) Add(source, target int64) error {
	n := len(s.m.runs)
	if err := s.m.Add(source, target); err != nil {
		return err
	}
	if len(s.m.runs) == n {
		return nil // extended the last run
	}
	// A new run: it joins the open segment unless that one is full.
	if s.open.idx >= 0 && n-s.open.idx < s.maxRuns {
		return nil
	}
	s.open = segStart{idx: n, key: source}
	s.opened = append(s.opened, s.open)
	return nil
}

// Pending returns the segments that changed since the last Commit, in key
// order, each complete (a record value replaces the previous version of its
// key). Usually that is the one open segment; a segment that was closed
// since is included too, and so is every segment a large batch of runs
// opened. The runs are copies.
func (s *Segmenter) Pending() []Segment {
	var out []Segment
	if d := s.done; d.runs > 0 {
		end := len(s.m.runs)
		if len(s.opened) > 0 {
			end = s.opened[0].idx
		}
		if end > d.runs || s.m.runs[d.runs-1].Len != d.lastLen {
			out = append(out, s.segment(d.open, end))
		}
	}
	for i, o := range s.opened {
		end := len(s.m.runs)
		if i+1 < len(s.opened) {
			end = s.opened[i+1].idx
		}
		out = append(out, s.segment(o, end))
	}
	return out
}

func (s *Segmenter) segment(start segStart, end int) Segment {
	runs := slices.Clone(s.m.runs[start.idx:end])
	return Segment{Key: start.key, Runs: clipFrom(runs, start.key)}
}

// Commit records that the segments Pending returned have been written (the
// transaction that carried them committed).
func (s *Segmenter) Commit() {
	s.done = watermark{runs: len(s.m.runs), open: s.open}
	if len(s.m.runs) > 0 {
		s.done.lastLen = s.m.runs[len(s.m.runs)-1].Len
	}
	s.opened = s.opened[:0]
}

// Abort undoes every Add since the last Commit, for when the transaction
// that carried the records (and their segments) aborted.
func (s *Segmenter) Abort() {
	s.m.truncate(s.done.runs, s.done.lastLen)
	s.open = s.done.open
	s.opened = s.opened[:0]
}
