package groups_test

import (
	"errors"
	"testing"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
)

// testMap: source 10-14 -> target 100-104, a source gap at 15-16 (say
// compacted) and a target gap at 105 (a commit marker), source 17-19 ->
// target 106-108; the checkpoint is at 22 (20 and 21 were markers).
func testMap(t *testing.T) *offsetmap.Map {
	t.Helper()
	var m offsetmap.Map
	for _, r := range []offsetmap.Run{{Source: 10, Target: 100, Len: 5}, {Source: 17, Target: 106, Len: 3}} {
		if err := m.AddRun(r); err != nil {
			t.Fatal(err)
		}
	}
	return &m
}

func TestTranslate(t *testing.T) {
	m := testMap(t)
	cp := state.Checkpoint{Next: 22}
	res := func(k groups.Kind, o int64) groups.Result { return groups.Result{Kind: k, Offset: o} }
	want := map[int64]groups.Result{
		10: res(groups.Exact, 100), 11: res(groups.Exact, 101), 14: res(groups.Exact, 104),
		15: res(groups.NextCopied, 106), 16: res(groups.NextCopied, 106),
		17: res(groups.Exact, 106), 19: res(groups.Exact, 108),
		20: res(groups.End, 109), 21: res(groups.End, 109), 22: res(groups.End, 109),
		23: res(groups.NotYetMirrored, -1), 1000: res(groups.NotYetMirrored, -1),
	}
	for c := range int64(10) {
		want[c] = groups.Result{Kind: groups.Expired, Offset: 100, Skipped: 10 - c}
	}
	for c, w := range want {
		if got, err := groups.Translate(groups.Partition{Map: m, Checkpoint: cp}, c); err != nil || got != w {
			t.Errorf("Translate(%d) = %+v, %v; want %+v", c, got, err, w)
		}
	}

	if _, err := groups.Translate(groups.Partition{Map: m, Checkpoint: cp}, -1); !errors.Is(err, groups.ErrOffset) {
		t.Errorf("Translate(-1): %v, want ErrOffset", err)
	}
	if _, err := groups.Translate(groups.Partition{Map: m, Checkpoint: state.Checkpoint{Next: 19}}, 5); !errors.Is(err, groups.ErrInconsistent) {
		t.Errorf("Translate with a map past the checkpoint: %v, want ErrInconsistent", err)
	}

	// Offset 15 expired before it was copied; 16 was compacted.
	p := groups.Partition{Map: m, Checkpoint: cp, Expired: []state.Expired{{From: 15, Until: 16}}}
	for c, w := range map[int64]groups.Result{
		14: {Kind: groups.Exact, Offset: 104},
		15: {Kind: groups.Expired, Offset: 106, Skipped: 2},
		16: {Kind: groups.NextCopied, Offset: 106},
		3:  {Kind: groups.Expired, Offset: 100, Skipped: 7},
	} {
		if got, err := groups.Translate(p, c); err != nil || got != w {
			t.Errorf("with an expired range: Translate(%d) = %+v, %v; want %+v", c, got, err, w)
		}
	}
}

// TestTranslateBeforeFirstCopy: below the first copied record (source 10),
// an offset the mirror read past (it began at or before it, the
// checkpoint's Start) was a gap, say compacted: NextCopied, nothing
// skipped. One below where the mirror began was never copied: Expired. A
// checkpoint without Start (older state) cannot tell: Expired, as before.
func TestTranslateBeforeFirstCopy(t *testing.T) {
	m := testMap(t)
	at := func(o int64) *int64 { return &o }
	for _, tc := range []struct {
		start *int64
		c     int64
		want  groups.Result
	}{
		{at(0), 0, groups.Result{Kind: groups.NextCopied, Offset: 100}},
		{at(0), 5, groups.Result{Kind: groups.NextCopied, Offset: 100}},
		{at(4), 4, groups.Result{Kind: groups.NextCopied, Offset: 100}},
		{at(4), 3, groups.Result{Kind: groups.Expired, Offset: 100, Skipped: 7}},
		{nil, 5, groups.Result{Kind: groups.Expired, Offset: 100, Skipped: 5}},
		{at(0), 12, groups.Result{Kind: groups.Exact, Offset: 102}},
	} {
		p := groups.Partition{Map: m, Checkpoint: state.Checkpoint{Next: 22, Start: tc.start}}
		if got, err := groups.Translate(p, tc.c); err != nil || got != tc.want {
			t.Errorf("start %v: Translate(%d) = %+v, %v; want %+v", tc.start, tc.c, got, err, tc.want)
		}
	}
	// Where the mirror began after an expired range, that range is
	// still expired.
	p := groups.Partition{Map: m, Checkpoint: state.Checkpoint{Next: 22, Start: at(6)}, Expired: []state.Expired{{From: 0, Until: 6}}}
	if got, err := groups.Translate(p, 2); err != nil || got != (groups.Result{Kind: groups.Expired, Offset: 100, Skipped: 8}) {
		t.Errorf("in the expired range: Translate(2) = %+v, %v", got, err)
	}
}

// An empty map: nothing copied yet (or nothing copyable below the
// checkpoint). Up to the checkpoint a group is caught up, at offset 0.
func TestTranslateEmpty(t *testing.T) {
	for _, m := range []*offsetmap.Map{nil, new(offsetmap.Map)} {
		for _, tc := range []struct {
			next, c int64
			want    groups.Result
		}{
			{0, 0, groups.Result{Kind: groups.End, Offset: 0}},
			{0, 1, groups.Result{Kind: groups.NotYetMirrored, Offset: -1}},
			{5, 3, groups.Result{Kind: groups.End, Offset: 0}},
			{5, 5, groups.Result{Kind: groups.End, Offset: 0}},
			{5, 6, groups.Result{Kind: groups.NotYetMirrored, Offset: -1}},
		} {
			if got, err := groups.Translate(groups.Partition{Map: m, Checkpoint: state.Checkpoint{Next: tc.next}}, tc.c); err != nil || got != tc.want {
				t.Errorf("empty map (nil %v), next %d: Translate(%d) = %+v, %v; want %+v", m == nil, tc.next, tc.c, got, err, tc.want)
			}
		}
	}
}

func TestTranslateBack(t *testing.T) {
	m := testMap(t)
	res := func(k groups.Kind, o int64) groups.Result { return groups.Result{Kind: k, Offset: o} }
	for target, w := range map[int64]groups.Result{
		0: res(groups.NextCopied, 10), 99: res(groups.NextCopied, 10),
		100: res(groups.Exact, 10), 104: res(groups.Exact, 14),
		105: res(groups.NextCopied, 17), // our commit marker
		106: res(groups.Exact, 17), 108: res(groups.Exact, 19),
		109: res(groups.End, 20), 500: res(groups.End, 20),
	} {
		if got, err := groups.TranslateBack(m, target); err != nil || got != w {
			t.Errorf("TranslateBack(%d) = %+v, %v; want %+v", target, got, err, w)
		}
	}
	if _, err := groups.TranslateBack(m, -1); !errors.Is(err, groups.ErrOffset) {
		t.Errorf("TranslateBack(-1): %v, want ErrOffset", err)
	}
	if _, err := groups.TranslateBack(nil, 0); !errors.Is(err, groups.ErrNoMapping) {
		t.Errorf("TranslateBack on an empty map: %v, want ErrNoMapping", err)
	}
}

func TestKindString(t *testing.T) {
	for k, s := range map[groups.Kind]string{
		groups.Exact: "exact", groups.NextCopied: "next-copied", groups.End: "end",
		groups.Expired: "expired", groups.NotYetMirrored: "not-yet-mirrored", 0: "Kind(0)",
	} {
		if k.String() != s {
			t.Errorf("Kind %d = %q, want %q", k, k.String(), s)
		}
	}
}
