package mirror_test

import (
	"maps"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
)

// assertStartedAt checks a completed bounded copy of "orders" that started
// at from[p] in each partition: the target holds exactly the source records
// from there, the offset map starts at the first of them, and the
// checkpoint counts them and ends at the source end offset.
func assertStartedAt(t *testing.T, pair *kafkatest.Pair, name string, from map[int32]int64) {
	t.Helper()
	assertMirroredFrom(t, pair, "orders", "orders", from)
	snap := assertState(t, pair, name, "orders", "orders", true)
	for p, start := range from {
		tp := state.TopicPartition{Topic: "orders", Partition: p}
		m := offsetMap(t, snap, tp)
		first, ok := m.First()
		end := endOffsets(t, pair.Source, "orders")[p]
		switch {
		case start >= end && ok:
			t.Errorf("%s: offset map starts at %d, want it empty (start %d, end %d)", tp, first.Source, start, end)
		case start < end && (!ok || first.Source != start):
			t.Errorf("%s: offset map starts at %d (non-empty %v), want %d", tp, first.Source, ok, start)
		}
	}
}

func TestStartPositions(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)

	t.Run("earliest", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		produceRange(t, pair.Source, "orders", 3, 0, 20, base)
		// Partition 1 starts later: earliest is the log start offset.
		deleteRecords(t, pair.Source, "orders", map[int32]int64{1: 7})
		m := newMirror(t, pair, "start", bounded(), "orders")
		run(t, m)
		assertStartedAt(t, pair, "start", map[int32]int64{0: 0, 1: 7, 2: 0})
		if st := m.Stats(); st.Records != 53 || len(st.Expired) != 0 {
			t.Errorf("stats: %d records, expired %v; want 53, none (a fresh start at the log start skips nothing)", st.Records, st.Expired)
		}
	})

	t.Run("latest", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		produceRange(t, pair.Source, "orders", 3, 0, 10, base)
		settings := bounded()
		settings.Start = config.StartPosition{Kind: config.StartLatest}
		// The first run starts at the end and copies nothing, but it
		// commits where it started.
		m := newMirror(t, pair, "start", settings, "orders")
		run(t, m)
		if st := m.Stats(); st.Records != 0 {
			t.Errorf("first run copied %d records, want 0", st.Records)
		}
		want := map[int32]int64{0: 10, 1: 10, 2: 10}
		if got := checkpoints(loadState(t, pair, "start"), "orders"); !maps.Equal(got, want) {
			t.Errorf("checkpoints after the first run: %v, want %v", got, want)
		}
		// Records produced since are copied by the next run; those
		// before the start never are.
		produceRange(t, pair.Source, "orders", 3, 10, 5, base)
		m = newMirror(t, pair, "start", settings, "orders")
		run(t, m)
		if st := m.Stats(); st.Records != 15 {
			t.Errorf("second run copied %d records, want 15", st.Records)
		}
		assertStartedAt(t, pair, "start", want)
	})

	t.Run("timestamp", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 4, nil)
		// Record i of every partition has timestamp base+i s, but the
		// partitions hold different ranges of i: 0-9, 5-14, 20-29, 0-3.
		produceRange(t, pair.Source, "orders", 1, 0, 10, base)
		for p, r := range map[int32][2]int{1: {5, 10}, 2: {20, 10}, 3: {0, 4}} {
			produceInto(t, pair.Source, "orders", p, r[0], r[1], base)
		}
		settings := bounded()
		settings.Start = config.StartPosition{Kind: config.StartTimestamp, Timestamp: base.Add(7 * time.Second)}
		m := newMirror(t, pair, "start", settings, "orders")
		run(t, m)
		// First timestamp >= base+7s: partition 0 at i=7 (offset 7),
		// partition 1 at i=7 (offset 2), partition 2 at its first record,
		// partition 3 nowhere: it starts at its end.
		from := map[int32]int64{0: 7, 1: 2, 2: 0, 3: 4}
		assertStartedAt(t, pair, "start", from)
		if st := m.Stats(); st.Records != 3+8+10 {
			t.Errorf("copied %d records, want 21", st.Records)
		}
	})

	t.Run("committed", func(t *testing.T) {
		for _, fallback := range []config.StartKind{config.StartEarliest, config.StartLatest} {
			t.Run("fallback "+string(fallback), func(t *testing.T) {
				pair := newPair(t)
				createTopic(t, pair, "orders", 4, nil)
				produceRange(t, pair.Source, "orders", 4, 0, 20, base)
				// Partition 3 starts at 5: the earliest fallback is
				// the log start, not 0.
				deleteRecords(t, pair.Source, "orders", map[int32]int64{3: 5})
				pair.Source.CommitOffsets(t, "app-1", map[string]map[int32]int64{"orders": {0: 4, 1: 12}})
				pair.Source.CommitOffsets(t, "app-2", map[string]map[int32]int64{"orders": {0: 9, 1: 3}})
				// Not selected: its lower offsets must not count.
				pair.Source.CommitOffsets(t, "other", map[string]map[int32]int64{"orders": {0: 1, 1: 1, 2: 1, 3: 6}})
				settings := bounded()
				settings.Start = config.StartPosition{Kind: config.StartCommitted}
				settings.StartFallback = fallback
				opts := options(t, pair, "start", settings, "orders")
				groups, err := config.NewSelection([]string{"app-.*", "other"}, []string{"other"})
				if err != nil {
					t.Fatal(err)
				}
				opts.Groups = groups
				m := mustNew(t, opts)
				run(t, m)
				// The lowest committed offset of the selected groups;
				// partitions 2 and 3, which they never committed, start
				// at the fallback.
				from := map[int32]int64{0: 4, 1: 3, 2: 0, 3: 5}
				if fallback == config.StartLatest {
					from[2], from[3] = 20, 20
				}
				assertStartedAt(t, pair, "start", from)
			})
		}
	})
}
