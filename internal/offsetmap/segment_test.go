package offsetmap_test

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
)

type seg = offsetmap.Segment
type runs = []offsetmap.Run

func r(source, target, n int64) offsetmap.Run {
	return offsetmap.Run{Source: source, Target: target, Len: n}
}

// persister plays the mirror: it adds records, writes what Pending returns
// and commits or aborts, keeping every committed segment record in the
// order written, as a compacted topic holds them before compaction.
type persister struct {
	t       *testing.T
	s       *offsetmap.Segmenter
	written []seg
}

func (p *persister) add(pairs ...pair) {
	p.t.Helper()
	for _, pr := range pairs {
		if err := p.s.Add(pr.source, pr.target); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p *persister) pending(want []seg) []seg {
	p.t.Helper()
	got := p.s.Pending()
	if !reflect.DeepEqual(got, want) {
		p.t.Fatalf("Pending = %v\nwant      %v", got, want)
	}
	return got
}

func (p *persister) commit(want []seg) {
	p.t.Helper()
	p.written = append(p.written, p.pending(want)...)
	p.s.Commit()
	if got := p.s.Pending(); got != nil {
		p.t.Fatalf("Pending after Commit = %v", got)
	}
}

func newPersister(t *testing.T, segments []seg, maxRuns int) *persister {
	t.Helper()
	s, err := offsetmap.NewSegmenter(segments, maxRuns)
	if err != nil {
		t.Fatal(err)
	}
	return &persister{t: t, s: s}
}

func TestSegmenter(t *testing.T) {
	p := newPersister(t, nil, 3)
	p.commit(nil)

	p.add(seq(0, 0, 3)...)
	p.commit([]seg{{Key: 0, Runs: runs{r(0, 0, 3)}}})

	p.add(pair{3, 4}, pair{4, 5})
	p.commit([]seg{{Key: 0, Runs: runs{r(0, 0, 3), r(3, 4, 2)}}})

	// Extending the last run rewrites its segment.
	p.add(pair{5, 6})
	p.commit([]seg{{Key: 0, Runs: runs{r(0, 0, 3), r(3, 4, 3)}}})

	// The third run fills segment 0.
	p.add(pair{10, 8})
	p.commit([]seg{{Key: 0, Runs: runs{r(0, 0, 3), r(3, 4, 3), r(10, 8, 1)}}})

	// A full segment's last run still grows in place; the next new run
	// opens segment 12, and both are written.
	p.add(pair{11, 9}, pair{12, 11})
	p.commit([]seg{
		{Key: 0, Runs: runs{r(0, 0, 3), r(3, 4, 3), r(10, 8, 2)}},
		{Key: 12, Runs: runs{r(12, 11, 1)}},
	})

	// An aborted transaction leaves no trace, even one that opened a
	// segment.
	p.add(pair{13, 13}, pair{20, 14}, pair{30, 16}, pair{40, 18}, pair{50, 20})
	p.pending([]seg{
		{Key: 12, Runs: runs{r(12, 11, 1), r(13, 13, 1), r(20, 14, 1)}},
		{Key: 30, Runs: runs{r(30, 16, 1), r(40, 18, 1), r(50, 20, 1)}},
	})
	p.s.Abort()
	p.pending(nil)
	checkMap(t, p.s.Map(), runs{r(0, 0, 3), r(3, 4, 3), r(10, 8, 2), r(12, 11, 1)}, 9)

	// An abort that only extended the last run.
	p.add(pair{13, 12})
	p.s.Abort()
	checkMap(t, p.s.Map(), runs{r(0, 0, 3), r(3, 4, 3), r(10, 8, 2), r(12, 11, 1)}, 9)

	p.add(pair{13, 14})
	p.commit([]seg{{Key: 12, Runs: runs{r(12, 11, 1), r(13, 14, 1)}}})

	// One large transaction: the open segment fills and two more open.
	p.add(pair{14, 16}, pair{15, 18}, pair{16, 20}, pair{17, 22}, pair{18, 24}, pair{19, 26})
	p.commit([]seg{
		{Key: 12, Runs: runs{r(12, 11, 1), r(13, 14, 1), r(14, 16, 1)}},
		{Key: 15, Runs: runs{r(15, 18, 1), r(16, 20, 1), r(17, 22, 1)}},
		{Key: 18, Runs: runs{r(18, 24, 1), r(19, 26, 1)}},
	})
	want := runs{r(0, 0, 3), r(3, 4, 3), r(10, 8, 2), r(12, 11, 1), r(13, 14, 1), r(14, 16, 1),
		r(15, 18, 1), r(16, 20, 1), r(17, 22, 1), r(18, 24, 1), r(19, 26, 1)}
	checkMap(t, p.s.Map(), want, 16)

	// Reload from every version written, in any order.
	for seed := range uint64(5) {
		shuffled := append([]seg(nil), p.written...)
		rand.New(rand.NewPCG(seed, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		m, err := offsetmap.Load(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		checkMap(t, m, want, 16)
	}

	// A Segmenter resumed from them continues with the same segments as
	// the one that wrote them.
	q := newPersister(t, p.written, 3)
	checkMap(t, q.s.Map(), want, 16)
	q.commit(nil)
	for _, x := range []*persister{p, q} {
		x.add(pair{20, 28}, pair{30, 29})
		x.commit([]seg{
			{Key: 18, Runs: runs{r(18, 24, 1), r(19, 26, 1), r(20, 28, 1)}},
			{Key: 30, Runs: runs{r(30, 29, 1)}},
		})
	}
}

func TestSegmenterDefaultsAndLimits(t *testing.T) {
	p := newPersister(t, nil, 0)
	for i := range int64(offsetmap.DefaultMaxRuns + 1) {
		p.add(pair{i, 2 * i}) // a target gap after every record: one run each
	}
	got := p.s.Pending()
	if len(got) != 2 || got[0].Key != 0 || len(got[0].Runs) != offsetmap.DefaultMaxRuns ||
		got[1].Key != offsetmap.DefaultMaxRuns || len(got[1].Runs) != 1 {
		t.Fatalf("with the default size, Pending has %d segments: %v", len(got), got)
	}
	if n := len(got[0].AppendValue(nil)); n != 1+2+256*3 { // version, count, 3 bytes a run
		t.Errorf("a full segment of one-record runs encodes in %d bytes", n)
	}
	for _, n := range []int{-1, offsetmap.MaxMaxRuns + 1} {
		_, err := offsetmap.NewSegmenter(nil, n)
		want := "segment size " + strconv.Itoa(n) + " runs: must be between 1 and 32768"
		if err == nil || err.Error() != want {
			t.Errorf("NewSegmenter(nil, %d) error = %v, want %q", n, err, want)
		}
	}
}

// A Segmenter resumed with a smaller size closes the oversized open
// segment at the next new run, and never rewrites it otherwise.
func TestSegmenterSmallerSizeAfterRestart(t *testing.T) {
	p := newPersister(t, []seg{{Key: 0, Runs: runs{r(0, 0, 1), r(1, 2, 1), r(2, 4, 1), r(3, 6, 1)}}}, 2)
	p.add(pair{4, 7})
	p.commit([]seg{{Key: 0, Runs: runs{r(0, 0, 1), r(1, 2, 1), r(2, 4, 1), r(3, 6, 2)}}})
	p.add(pair{5, 9}, pair{6, 11}, pair{7, 13})
	p.commit([]seg{{Key: 5, Runs: runs{r(5, 9, 1), r(6, 11, 1)}}, {Key: 7, Runs: runs{r(7, 13, 1)}}})
}

// Segments written by someone who did not keep runs maximal: the open
// segment starts inside a merged run and is written cut at its key.
func TestSegmenterResumesInsideMergedRun(t *testing.T) {
	p := newPersister(t, []seg{
		{Key: 0, Runs: runs{r(0, 0, 5)}},
		{Key: 5, Runs: runs{r(5, 5, 2)}},
	}, 3)
	checkMap(t, p.s.Map(), runs{r(0, 0, 7)}, 7)
	p.add(pair{7, 7}, pair{9, 9})
	p.commit([]seg{{Key: 5, Runs: runs{r(5, 5, 3), r(9, 9, 1)}}})
	m, err := offsetmap.Load(append([]seg{{Key: 0, Runs: runs{r(0, 0, 5)}}}, p.written...))
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, m, runs{r(0, 0, 8), r(9, 9, 1)}, 9)
}

func TestLoad(t *testing.T) {
	v1 := seg{Key: 0, Runs: runs{r(0, 0, 3)}}
	v2 := seg{Key: 0, Runs: runs{r(0, 0, 3), r(3, 4, 2)}}
	v3 := seg{Key: 0, Runs: runs{r(0, 0, 3), r(3, 4, 3)}}
	s10 := seg{Key: 10, Runs: runs{r(10, 9, 4)}}
	for _, tc := range []struct {
		name string
		in   []seg
		want runs
		is   error
		err  string
	}{
		{"nothing", nil, nil, nil, ""},
		{"versions in any order", []seg{v2, s10, v3, v1}, runs{r(0, 0, 3), r(3, 4, 3), r(10, 9, 4)}, nil, ""},
		{"same version twice", []seg{s10, v2, v2}, runs{r(0, 0, 3), r(3, 4, 2), r(10, 9, 4)}, nil, ""},
		{"conflicting run", []seg{v2, {Key: 0, Runs: runs{r(0, 0, 3), r(3, 5, 1)}}}, nil, offsetmap.ErrConflict,
			"conflicting versions of an offset map segment: segment 0"},
		{"conflicting earlier run", []seg{v2, {Key: 0, Runs: runs{r(0, 0, 2), r(3, 4, 1)}}}, nil, offsetmap.ErrConflict,
			"conflicting versions of an offset map segment: segment 0"},
		{"same end, different runs", []seg{v3, {Key: 0, Runs: runs{r(0, 0, 6)}}}, nil, offsetmap.ErrConflict,
			"conflicting versions of an offset map segment: segment 0"},
		{"overlapping keys", []seg{{Key: 0, Runs: runs{r(0, 0, 5)}}, {Key: 3, Runs: runs{r(3, 10, 1)}}}, nil, offsetmap.ErrOrder,
			"segment 3: add run 3->10 (len 1) after 4->4: offsets not increasing"},
		{"target goes back", []seg{{Key: 0, Runs: runs{r(0, 10, 5)}}, {Key: 8, Runs: runs{r(8, 12, 1)}}}, nil, offsetmap.ErrOrder,
			"segment 8: add run 8->12 (len 1) after 4->14: offsets not increasing"},
		{"key mismatch", []seg{{Key: 5, Runs: runs{r(6, 0, 1)}}}, nil, offsetmap.ErrMalformed,
			"malformed offset map segment: segment 5 starts at source offset 6"},
		{"no runs", []seg{v1, {Key: 5}}, nil, offsetmap.ErrMalformed, "malformed offset map segment: segment 5 has no runs"},
		{"bad run", []seg{{Key: 0, Runs: runs{r(0, 0, 0)}}}, nil, offsetmap.ErrRange,
			"segment 0: add run 0->0 (len 0): length below 1: offset out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := offsetmap.Load(tc.in)
			if tc.err != "" {
				if err == nil || !errors.Is(err, tc.is) || err.Error() != tc.err {
					t.Fatalf("Load error = %v, want %q", err, tc.err)
				}
				if _, err := offsetmap.NewSegmenter(tc.in, 3); err == nil || err.Error() != tc.err {
					t.Fatalf("NewSegmenter error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Runs(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Load = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecodeSegment(t *testing.T) {
	s, err := offsetmap.DecodeSegment(100, goldenBytes)
	if err != nil || !reflect.DeepEqual(s, seg{Key: 100, Runs: goldenRuns}) {
		t.Fatalf("DecodeSegment = %v, %v", s, err)
	}
	if v := s.AppendValue(nil); !reflect.DeepEqual(v, goldenBytes) {
		t.Fatalf("AppendValue = % x", v)
	}
	for _, tc := range []struct {
		key   int64
		value []byte
		want  string
	}{
		{99, goldenBytes, "malformed offset map segment: segment 99 starts at source offset 100"},
		{7, nil, "segment 7: malformed offset map segment: empty value"},
		{7, []byte{1, 0}, "malformed offset map segment: segment 7 has no runs"},
		{7, []byte{9}, "segment 7: unsupported offset map encoding version 9 (this kmigrate reads version 1)"},
	} {
		s, err := offsetmap.DecodeSegment(tc.key, tc.value)
		if err == nil || err.Error() != tc.want || s.Runs != nil {
			t.Errorf("DecodeSegment(%d, % x) = %v, %v; want error %q", tc.key, tc.value, s, err, tc.want)
		}
	}
}
