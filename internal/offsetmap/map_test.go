package offsetmap_test

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
)

type pair struct{ source, target int64 }

// lookup is one expected answer of Lookup or Reverse.
type lookup struct {
	in    int64
	out   int64
	exact bool
}

func build(t testing.TB, pairs []pair) *offsetmap.Map {
	t.Helper()
	var m offsetmap.Map
	for _, p := range pairs {
		if err := m.Add(p.source, p.target); err != nil {
			t.Fatal(err)
		}
	}
	return &m
}

// seq returns pairs source+i -> target+i for i in [0, n).
func seq(source, target, n int64) []pair {
	var ps []pair
	for i := range n {
		ps = append(ps, pair{source + i, target + i})
	}
	return ps
}

func concat(pss ...[]pair) []pair {
	var out []pair
	for _, ps := range pss {
		out = append(out, ps...)
	}
	return out
}

func TestMap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pairs   []pair
		runs    []offsetmap.Run
		records int64
		lookup  []lookup
		reverse []lookup
	}{
		{
			name:    "identity",
			pairs:   seq(0, 0, 10),
			runs:    []offsetmap.Run{{Source: 0, Target: 0, Len: 10}},
			records: 10,
			lookup:  []lookup{{-1, 0, false}, {0, 0, true}, {5, 5, true}, {9, 9, true}, {10, 10, false}, {100, 10, false}},
			reverse: []lookup{{-1, 0, false}, {0, 0, true}, {9, 9, true}, {10, 10, false}, {math.MaxInt64, 10, false}},
		},
		{
			name:    "source gaps (compaction)",
			pairs:   []pair{{0, 0}, {1, 1}, {2, 2}, {5, 3}, {6, 4}, {9, 5}},
			runs:    []offsetmap.Run{{Source: 0, Target: 0, Len: 3}, {Source: 5, Target: 3, Len: 2}, {Source: 9, Target: 5, Len: 1}},
			records: 6,
			lookup: []lookup{{0, 0, true}, {2, 2, true}, {3, 3, false}, {4, 3, false}, {5, 3, true}, {6, 4, true},
				{7, 5, false}, {8, 5, false}, {9, 5, true}, {10, 6, false}, {11, 6, false}},
			reverse: []lookup{{0, 0, true}, {2, 2, true}, {3, 5, true}, {4, 6, true}, {5, 9, true}, {6, 10, false}, {7, 10, false}},
		},
		{
			name:    "target gaps (a marker every 3 records)",
			pairs:   concat(seq(0, 0, 3), seq(3, 4, 3), seq(6, 8, 3)),
			runs:    []offsetmap.Run{{Source: 0, Target: 0, Len: 3}, {Source: 3, Target: 4, Len: 3}, {Source: 6, Target: 8, Len: 3}},
			records: 9,
			lookup:  []lookup{{0, 0, true}, {2, 2, true}, {3, 4, true}, {5, 6, true}, {6, 8, true}, {8, 10, true}, {9, 11, false}},
			reverse: []lookup{{0, 0, true}, {2, 2, true}, {3, 3, false}, {4, 3, true}, {7, 6, false}, {8, 6, true},
				{10, 8, true}, {11, 9, false}, {12, 9, false}},
		},
		{
			name: "both, starting mid-log",
			// Source 102 was compacted away; target 53 and 56 are markers.
			pairs:   []pair{{100, 50}, {101, 51}, {103, 52}, {104, 54}, {105, 55}, {110, 57}},
			runs:    []offsetmap.Run{{Source: 100, Target: 50, Len: 2}, {Source: 103, Target: 52, Len: 1}, {Source: 104, Target: 54, Len: 2}, {Source: 110, Target: 57, Len: 1}},
			records: 6,
			lookup: []lookup{{0, 50, false}, {99, 50, false}, {100, 50, true}, {101, 51, true}, {102, 52, false}, {103, 52, true},
				{104, 54, true}, {105, 55, true}, {106, 57, false}, {109, 57, false}, {110, 57, true}, {111, 58, false}},
			reverse: []lookup{{0, 100, false}, {49, 100, false}, {50, 100, true}, {51, 101, true}, {52, 103, true}, {53, 104, false},
				{54, 104, true}, {55, 105, true}, {56, 110, false}, {57, 110, true}, {58, 111, false}, {1000, 111, false}},
		},
		{
			name:    "single record",
			pairs:   []pair{{7, 3}},
			runs:    []offsetmap.Run{{Source: 7, Target: 3, Len: 1}},
			records: 1,
			lookup:  []lookup{{6, 3, false}, {7, 3, true}, {8, 4, false}},
			reverse: []lookup{{2, 7, false}, {3, 7, true}, {4, 8, false}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := build(t, tc.pairs)
			checkMap(t, m, tc.runs, tc.records)
			for _, l := range tc.lookup {
				got, exact, ok := m.Lookup(l.in)
				if got != l.out || exact != l.exact || !ok {
					t.Errorf("Lookup(%d) = %d, %v, %v; want %d, %v, true", l.in, got, exact, ok, l.out, l.exact)
				}
			}
			for _, l := range tc.reverse {
				got, exact, ok := m.Reverse(l.in)
				if got != l.out || exact != l.exact || !ok {
					t.Errorf("Reverse(%d) = %d, %v, %v; want %d, %v, true", l.in, got, exact, ok, l.out, l.exact)
				}
			}
			// The same runs added at once give the same map.
			var byRun offsetmap.Map
			for _, r := range tc.runs {
				if err := byRun.AddRun(r); err != nil {
					t.Fatal(err)
				}
			}
			checkMap(t, &byRun, tc.runs, tc.records)
		})
	}
}

// checkMap checks every accessor of m against the expected runs.
func checkMap(t *testing.T, m *offsetmap.Map, runs []offsetmap.Run, records int64) {
	t.Helper()
	if got := m.Runs(); !reflect.DeepEqual(got, runs) {
		t.Fatalf("Runs = %v, want %v", got, runs)
	}
	if m.Len() != len(runs) || m.Records() != records {
		t.Errorf("Len, Records = %d, %d; want %d, %d", m.Len(), m.Records(), len(runs), records)
	}
	var first, last offsetmap.Run
	if len(runs) > 0 {
		first, last = runs[0], runs[len(runs)-1]
	}
	if f, ok := m.First(); f != first || ok != (len(runs) > 0) {
		t.Errorf("First = %v, %v; want %v", f, ok, first)
	}
	if l, ok := m.Last(); l != last || ok != (len(runs) > 0) {
		t.Errorf("Last = %v, %v; want %v", l, ok, last)
	}
	if m.SourceEnd() != last.SourceEnd() || m.TargetEnd() != last.TargetEnd() {
		t.Errorf("SourceEnd, TargetEnd = %d, %d; want %d, %d", m.SourceEnd(), m.TargetEnd(), last.SourceEnd(), last.TargetEnd())
	}
}

func TestEmptyMap(t *testing.T) {
	var m offsetmap.Map
	checkMap(t, &m, nil, 0)
	for _, in := range []int64{-1, 0, 5} {
		if got, exact, ok := m.Lookup(in); got != 0 || exact || ok {
			t.Errorf("Lookup(%d) = %d, %v, %v on an empty map", in, got, exact, ok)
		}
		if got, exact, ok := m.Reverse(in); got != 0 || exact || ok {
			t.Errorf("Reverse(%d) = %d, %v, %v on an empty map", in, got, exact, ok)
		}
	}
	if got := m.Since(0); got != nil {
		t.Errorf("Since(0) = %v on an empty map", got)
	}
}

func TestAddErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []pair
		add    pair
		is     error
		want   string
	}{
		{"same source", []pair{{5, 5}}, pair{5, 6}, offsetmap.ErrOrder, "add 5->6 after 5->5: offsets not increasing"},
		{"same target", []pair{{5, 5}}, pair{6, 5}, offsetmap.ErrOrder, "add 6->5 after 5->5: offsets not increasing"},
		{"source back", []pair{{5, 5}, {6, 6}}, pair{4, 9}, offsetmap.ErrOrder, "add 4->9 after 6->6: offsets not increasing"},
		{"target back", []pair{{5, 10}, {8, 12}}, pair{9, 11}, offsetmap.ErrOrder, "add 9->11 after 8->12: offsets not increasing"},
		{"negative source", nil, pair{-1, 0}, offsetmap.ErrRange, "add -1->0: offset out of range"},
		{"negative target", []pair{{1, 1}}, pair{2, -1}, offsetmap.ErrOrder, "add 2->-1 after 1->1: offsets not increasing"},
		{"negative target first", nil, pair{0, -1}, offsetmap.ErrRange, "add 0->-1: offset out of range"},
		{"max source", nil, pair{math.MaxInt64, 0}, offsetmap.ErrRange, "add 9223372036854775807->0: offset out of range"},
		{"extend to max", []pair{{math.MaxInt64 - 1, 0}}, pair{math.MaxInt64, 1}, offsetmap.ErrRange, "add 9223372036854775807->1: offset out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := build(t, tc.before)
			want := m.Runs()
			err := m.Add(tc.add.source, tc.add.target)
			if err == nil || !errors.Is(err, tc.is) || err.Error() != tc.want {
				t.Fatalf("Add error = %v, want %q (wrapping %v)", err, tc.want, tc.is)
			}
			checkMap(t, m, want, int64(len(tc.before)))
		})
	}
}

func TestAddRun(t *testing.T) {
	var m offsetmap.Map
	for _, r := range []offsetmap.Run{
		{Source: 10, Target: 0, Len: 5},
		{Source: 15, Target: 5, Len: 2},  // contiguous: merged
		{Source: 17, Target: 8, Len: 1},  // target gap: new run
		{Source: 20, Target: 9, Len: 4},  // source gap: new run
		{Source: 24, Target: 13, Len: 1}, // merged
	} {
		if err := m.AddRun(r); err != nil {
			t.Fatal(err)
		}
	}
	checkMap(t, &m, []offsetmap.Run{{Source: 10, Target: 0, Len: 7}, {Source: 17, Target: 8, Len: 1}, {Source: 20, Target: 9, Len: 5}}, 13)
	// Add continues the merged run.
	if err := m.Add(25, 14); err != nil {
		t.Fatal(err)
	}
	checkMap(t, &m, []offsetmap.Run{{Source: 10, Target: 0, Len: 7}, {Source: 17, Target: 8, Len: 1}, {Source: 20, Target: 9, Len: 6}}, 14)

	for _, tc := range []struct {
		r    offsetmap.Run
		is   error
		want string
	}{
		{offsetmap.Run{Source: 25, Target: 20, Len: 1}, offsetmap.ErrOrder, "add run 25->20 (len 1) after 25->14: offsets not increasing"},
		{offsetmap.Run{Source: 30, Target: 14, Len: 1}, offsetmap.ErrOrder, "add run 30->14 (len 1) after 25->14: offsets not increasing"},
		{offsetmap.Run{Source: 30, Target: 30, Len: 0}, offsetmap.ErrRange, "add run 30->30 (len 0): length below 1: offset out of range"},
		{offsetmap.Run{Source: 30, Target: 30, Len: -4}, offsetmap.ErrRange, "add run 30->30 (len -4): length below 1: offset out of range"},
		{offsetmap.Run{Source: -1, Target: 30, Len: 1}, offsetmap.ErrRange, "add run -1->30 (len 1): negative offset: offset out of range"},
		{offsetmap.Run{Source: 30, Target: math.MaxInt64, Len: 1}, offsetmap.ErrRange, "add run 30->9223372036854775807 (len 1): end overflows int64: offset out of range"},
		{offsetmap.Run{Source: 30, Target: 30, Len: math.MaxInt64 - 29}, offsetmap.ErrRange, "add run 30->30 (len 9223372036854775778): end overflows int64: offset out of range"},
	} {
		err := m.AddRun(tc.r)
		if err == nil || !errors.Is(err, tc.is) || err.Error() != tc.want {
			t.Errorf("AddRun(%v) error = %v, want %q", tc.r, err, tc.want)
		}
	}
	checkMap(t, &m, []offsetmap.Run{{Source: 10, Target: 0, Len: 7}, {Source: 17, Target: 8, Len: 1}, {Source: 20, Target: 9, Len: 6}}, 14)
}

func TestSince(t *testing.T) {
	m := build(t, []pair{{100, 50}, {101, 51}, {103, 52}, {104, 54}, {105, 55}, {110, 57}})
	all := m.Runs()
	for _, tc := range []struct {
		source int64
		want   []offsetmap.Run
	}{
		{0, all},
		{100, all},
		{101, []offsetmap.Run{{Source: 101, Target: 51, Len: 1}, {Source: 103, Target: 52, Len: 1}, {Source: 104, Target: 54, Len: 2}, {Source: 110, Target: 57, Len: 1}}},
		{102, []offsetmap.Run{{Source: 103, Target: 52, Len: 1}, {Source: 104, Target: 54, Len: 2}, {Source: 110, Target: 57, Len: 1}}},
		{105, []offsetmap.Run{{Source: 105, Target: 55, Len: 1}, {Source: 110, Target: 57, Len: 1}}},
		{106, []offsetmap.Run{{Source: 110, Target: 57, Len: 1}}},
		{110, []offsetmap.Run{{Source: 110, Target: 57, Len: 1}}},
		{111, nil},
	} {
		got := m.Since(tc.source)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Since(%d) = %v, want %v", tc.source, got, tc.want)
		}
		if len(got) > 0 {
			got[0].Len = 99 // a copy: the map must not change
		}
	}
	checkMap(t, m, all, 6)
}

func TestRunsAndCloneAreCopies(t *testing.T) {
	m := build(t, seq(0, 0, 3))
	runs := m.Runs()
	runs[0].Len = 100
	c := m.Clone()
	if err := c.Add(10, 10); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(3, 3); err != nil {
		t.Fatal(err)
	}
	checkMap(t, m, []offsetmap.Run{{Source: 0, Target: 0, Len: 4}}, 4)
	checkMap(t, c, []offsetmap.Run{{Source: 0, Target: 0, Len: 3}, {Source: 10, Target: 10, Len: 1}}, 4)
}

func TestBefore(t *testing.T) {
	var m offsetmap.Map
	for _, r := range []offsetmap.Run{{Source: 0, Target: 3, Len: 4}, {Source: 10, Target: 9, Len: 2}} {
		if err := m.AddRun(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		target, want int64
		ok           bool
	}{{0, 0, false}, {3, 0, false}, {4, 3, true}, {7, 6, true}, {8, 6, true}, {9, 6, true}, {10, 9, true}, {11, 10, true}, {100, 10, true}} {
		got, ok := m.Before(tc.target)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Before(%d) = %d, %v; want %d, %v", tc.target, got, ok, tc.want, tc.ok)
		}
	}
}
