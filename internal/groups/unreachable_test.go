package groups_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/state"
)

func TestParseNativeChoice(t *testing.T) {
	for in, want := range map[string]groups.NativeChoice{"": groups.NativesRefuse, "refuse": groups.NativesRefuse, "skip": groups.NativesSkip, "reread": groups.NativesReread} {
		if got, err := groups.ParseNativeChoice(in); err != nil || got != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	if _, err := groups.ParseNativeChoice("Skip"); err == nil || err.Error() != `"Skip" is not one of refuse, skip, reread` {
		t.Errorf("Skip: %v", err)
	}
}

func TestRangesText(t *testing.T) {
	rs := []groups.NativeRange{{From: 3, To: 4}, {From: 7, To: 10}, {From: 12, To: 13}}
	if got := groups.RangesText(rs, 5); got != "offset 3, offsets 7-9, offset 12" {
		t.Errorf("%q", got)
	}
	if got := groups.RangesText(rs, 1); got != "offset 3, and 2 more ranges" {
		t.Errorf("%q", got)
	}
}

// TestMigrateRereadAfterSync: target orders/0 holds copies of s-0..9,
// natives n-0..2, copies of u-0..19, natives late-0..1, copies of t-0..4.
// A group at source offset 30 (t-0) has consumed the copies after n-0..2
// (3 unreachable) and not seen late-0..1 (read first). Group sync had put
// it at late-0; reread moves it back to n-0 without --force (it never
// consumed on the target), counts the 20 copies it reads again, and the
// group then receives every native once.
func TestMigrateRereadAfterSync(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	produceN(t, pair.Source, "orders", 0, 10, 10, "s")
	mirrorOnce(t, pair, "m1", "orders")
	produceN(t, pair.Target, "orders", 0, 3, 3, "n")
	produceN(t, pair.Source, "orders", 0, 20, 20, "u") // source offsets 10..29
	mirrorOnce(t, pair, "m1", "orders")
	produceN(t, pair.Target, "orders", 0, 2, 2, "late")
	produceN(t, pair.Source, "orders", 0, 5, 5, "t") // source offsets 30..34
	mirrorOnce(t, pair, "m1", "orders")
	c0 := copies(t, pair, "orders", 0)
	natives := c0[9] + 2 // after the copy of 9 and the commit marker
	late := c0[29] + 2   // after the copy of 29 and the commit marker
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 30}})
	pair.Target.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: late}}) // as group sync would
	c := clusters(t, pair, "m1")

	_, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{})
	if !errors.Is(err, groups.ErrUnreachableNatives) {
		t.Fatalf("default: %v", err)
	}
	res, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{Natives: groups.NativesReread})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Partitions[0]
	if p.Kind != groups.Exact || p.To != natives || p.Previous != late || !p.Changed || p.Native != 2 || p.Unreachable != 3 ||
		!slices.Equal(p.UnreachableNatives, []groups.NativeRange{{From: natives, To: natives + 3}}) || p.Reread != 20 ||
		p.Record == nil || p.Record.Origin != -1 || p.Record.Key != `"n-0"` {
		t.Errorf("reread: %+v, record %+v", p, p.Record)
	}
	got := resume(t, pair.Target, "app", "orders")[0]
	want := slices.Concat(values("n", 0, 3), values("u", 0, 20), values("late", 0, 2), values("t", 0, 5))
	if !slices.Equal(got, want) {
		t.Errorf("resumed with\n%q\nwant\n%q", got, want)
	}
}

// fetchCounter counts the Fetch requests a client writes.
type fetchCounter struct{ n atomic.Int64 }

func (c *fetchCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 1 && err == nil {
		c.n.Add(1)
	}
}

// TestNativeCache: a cache shared by reports reads each target partition's
// gaps once (a second report fetches nothing); a later report over a grown
// partition reads from where the last one stopped and gives exactly what a
// fresh read gives.
func TestNativeCache(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	produceN(t, pair.Source, "orders", 0, 10, 10, "s")
	mirrorOnce(t, pair, "m1", "orders")
	produceN(t, pair.Target, "orders", 0, 3, 3, "n")
	produceN(t, pair.Source, "orders", 0, 10, 10, "u")
	mirrorOnce(t, pair, "m1", "orders")
	var fetches fetchCounter
	tgt := pair.Target.Client(t, kgo.WithHooks(&fetches))
	tp := state.TopicPartition{Topic: "orders", Partition: 0}
	cache := groups.NewNativeCache()
	below := func(snap *state.Snapshot, c *groups.NativeCache) ([]groups.NativeRange, int64) {
		t.Helper()
		p, err := groups.FromSnapshot(snap, tp)
		if err != nil {
			t.Fatal(err)
		}
		rs, n, err := groups.NewUnreachableFinder(tgt, pair.Source.ID, snap, c).Below(t.Context(), tp, "orders", p.Map.TargetEnd())
		if err != nil {
			t.Fatal(err)
		}
		return rs, n
	}
	c0 := copies(t, pair, "orders", 0)
	first := []groups.NativeRange{{From: c0[9] + 2, To: c0[9] + 5}}
	snap := loadState(t, pair, "m1")
	if rs, n := below(snap, cache); n != 3 || !slices.Equal(rs, first) || fetches.n.Load() == 0 {
		t.Fatalf("first report: %v (%d), %d fetches", rs, n, fetches.n.Load())
	}
	before := fetches.n.Load()
	if rs, n := below(snap, cache); n != 3 || !slices.Equal(rs, first) || fetches.n.Load() != before {
		t.Errorf("second report: %v (%d), %d more fetches, want none", rs, n, fetches.n.Load()-before)
	}

	produceN(t, pair.Target, "orders", 0, 2, 2, "late")
	produceN(t, pair.Source, "orders", 0, 5, 5, "t")
	mirrorOnce(t, pair, "m1", "orders")
	c0 = copies(t, pair, "orders", 0)
	want := append(first, groups.NativeRange{From: c0[19] + 2, To: c0[19] + 4})
	snap = loadState(t, pair, "m1")
	before = fetches.n.Load()
	rs, n := below(snap, cache)
	cached := fetches.n.Load() - before
	if n != 5 || !slices.Equal(rs, want) {
		t.Errorf("cached report over the grown partition: %v (%d), want %v", rs, n, want)
	}
	before = fetches.n.Load()
	if rs, n := below(snap, nil); n != 5 || !slices.Equal(rs, want) || fetches.n.Load()-before < cached {
		t.Errorf("fresh report: %v (%d), %d fetches, the cached one %d", rs, n, fetches.n.Load()-before, cached)
	}
}

// TestMigrateOpenTransaction: a transaction written natively on the target
// is open below the end of the copies, so what a group would skip cannot
// all be read yet: Migrate says so (ErrOpenTransaction) instead of
// guessing; once it commits, its record is an unreachable native.
func TestMigrateOpenTransaction(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	produceN(t, pair.Source, "orders", 0, 5, 5, "s")
	mirrorOnce(t, pair, "m1", "orders")
	txn := pair.Target.Client(t, kgo.TransactionalID("native-app"))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(t.Context(), &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("n-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produceN(t, pair.Source, "orders", 0, 5, 5, "u")
	mirrorOnce(t, pair, "m1", "orders")
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 10}})
	c := clusters(t, pair, "m1")
	if _, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{Natives: groups.NativesSkip}); !errors.Is(err, groups.ErrOpenTransaction) {
		t.Fatalf("open transaction: %v", err)
	}
	if err := txn.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	_, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{})
	var ue *groups.UnreachableError
	c0 := copies(t, pair, "orders", 0)
	if !errors.As(err, &ue) || ue.Partitions[0].Unreachable != 1 || !slices.Equal(ue.Partitions[0].UnreachableNatives, []groups.NativeRange{{From: c0[4] + 2, To: c0[4] + 3}}) {
		t.Errorf("committed: %v", err)
	}
}
