package mirror_test

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/state"
)

// assertExpired checks the expired ranges of a Mirror's stats and of the
// state topic of migration name against want.
func assertExpired(t *testing.T, m *mirror.Mirror, snap *state.Snapshot, want []mirror.ExpiredRange) {
	t.Helper()
	if got := m.Stats().Expired; !slices.Equal(got, want) {
		t.Errorf("Stats().Expired = %+v, want %+v", got, want)
	}
	var got []mirror.ExpiredRange
	for tp, es := range snap.Expired {
		for _, e := range es {
			got = append(got, mirror.ExpiredRange{Topic: tp.Topic, Partition: tp.Partition, From: e.From, Until: e.Until, Count: e.Count()})
			if e.Reason == "" || e.Detected.IsZero() {
				t.Errorf("%s: expired range %d-%d without reason or detection time: %+v", tp, e.From, e.Until, e)
			}
		}
	}
	slices.SortFunc(got, func(a, b mirror.ExpiredRange) int { return int(a.Partition - b.Partition) })
	if !slices.Equal(got, want) {
		t.Errorf("state topic expired ranges = %+v, want %+v", got, want)
	}
}

func TestExpiredRanges(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)

	t.Run("deleted after a checkpoint", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 2, nil)
		produceRange(t, pair.Source, "orders", 2, 0, 40, base)
		run(t, newMirror(t, pair, "expire", bounded(), "orders"))

		// The source moves on, and before the next run deletes records
		// beyond the checkpoint (40) in partition 0.
		produceRange(t, pair.Source, "orders", 2, 40, 60, base)
		before := pair.Source.ConsumeAll(t, "orders")
		deleteRecords(t, pair.Source, "orders", map[int32]int64{0: 70})

		m := newMirror(t, pair, "expire", bounded(), "orders")
		run(t, m)
		want := []mirror.ExpiredRange{{Topic: "orders", Partition: 0, From: 40, Until: 70, Count: 30}}
		assertExpired(t, m, loadState(t, pair, "expire"), want)
		// The copy holds everything but the expired range.
		var kept []*kgo.Record
		for _, r := range before {
			if r.Partition != 0 || r.Offset < 40 || r.Offset >= 70 {
				kept = append(kept, r)
			}
		}
		assertRecords(t, pair, "orders", kept, true)
		assertExactlyOnce(t, pair, "orders", kept)
		if st := m.Stats(); st.Records != 30+60 {
			t.Errorf("second run copied %d records, want 90", st.Records)
		}
		snap := loadState(t, pair, "expire")
		if got, want := checkpoints(snap, "orders"), map[int32]int64{0: 100, 1: 100}; !maps.Equal(got, want) {
			t.Errorf("checkpoints %v, want %v", got, want)
		}
		if c := snap.Checkpoints[state.TopicPartition{Topic: "orders", Partition: 0}]; c.Records != 40+30 {
			t.Errorf("partition 0 checkpoint counts %d records, want 70", c.Records)
		}

		// A later run still reports the range, from the state.
		m = newMirror(t, pair, "expire", bounded(), "orders")
		run(t, m)
		assertExpired(t, m, loadState(t, pair, "expire"), want)
	})

	t.Run("deleted while copying", func(t *testing.T) {
		pair := newPair(t)
		kf := pair.Source.RequireKfake(t)
		createTopic(t, pair, "orders", 2, nil)
		rng := rand.New(rand.NewChaCha8([32]byte{7}))
		var rs []*kgo.Record
		for i := range 60000 { // 6MB per partition: several fetches even at the smallest budget
			rs = append(rs, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: randomBytes(rng, 200), Timestamp: base})
		}
		pair.Source.Produce(t, rs...)
		before := pair.Source.ConsumeAll(t, "orders")

		// Once the copy of partition 0 is under way, hold its next fetch
		// at the broker, delete records beyond its offset, and let it go
		// on: it finds its offset gone.
		var hold atomic.Bool
		hold.Store(true)
		held := make(chan int64, 1)
		deleted := make(chan struct{})
		kf.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
			kf.KeepControl()
			if !hold.Load() {
				return nil, nil, false
			}
			for _, rt := range req.(*kmsg.FetchRequest).Topics {
				for _, rp := range rt.Partitions {
					if rp.Partition == 0 && rp.FetchOffset > 0 && rp.FetchOffset < 29000 && hold.CompareAndSwap(true, false) {
						held <- rp.FetchOffset
						kf.SleepControl(func() { <-deleted })
					}
				}
			}
			return nil, nil, false
		})
		settings := bounded()
		settings.MemoryBudget = config.MinMemoryBudget // the smallest fetches
		m := mustNew(t, options(t, pair, "expire", settings, "orders"))
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		done := runAsync(ctx, m)
		var from int64
		select {
		case from = <-held:
		case <-ctx.Done():
			t.Fatalf("no second fetch of partition 0 below 29000; stats %+v", m.Stats())
		}
		deleteRecords(t, pair.Source, "orders", map[int32]int64{0: from + 1000})
		close(deleted)
		if err := <-done; err != nil || !m.Stats().Done {
			t.Fatalf("Run: %v, done %v", err, m.Stats().Done)
		}
		want := []mirror.ExpiredRange{{Topic: "orders", Partition: 0, From: from, Until: from + 1000, Count: 1000}}
		assertExpired(t, m, loadState(t, pair, "expire"), want)
		var kept []*kgo.Record
		for _, r := range before {
			if r.Partition != 0 || r.Offset < from || r.Offset >= from+1000 {
				kept = append(kept, r)
			}
		}
		assertRecords(t, pair, "orders", kept, true)
		assertExactlyOnce(t, pair, "orders", kept)
		snap := loadState(t, pair, "expire")
		if got, want := checkpoints(snap, "orders"), map[int32]int64{0: 30000, 1: 30000}; !maps.Equal(got, want) {
			t.Errorf("checkpoints %v, want %v", got, want)
		}
		if c := snap.Checkpoints[state.TopicPartition{Topic: "orders", Partition: 0}]; c.Records != 29000 {
			t.Errorf("partition 0 checkpoint counts %d records, want 29000", c.Records)
		}
		t.Logf("expired while copying: %+v", want)
	})

	t.Run("committed start below the log start", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		produceRange(t, pair.Source, "orders", 3, 0, 50, base)
		pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 10, 1: 5, 2: 45}})
		deleteRecords(t, pair.Source, "orders", map[int32]int64{0: 30, 2: 20})
		settings := bounded()
		settings.Start = config.StartPosition{Kind: config.StartCommitted}
		m := newMirror(t, pair, "expire", settings, "orders")
		run(t, m)
		// Partition 0's group has not read 10-29, which are gone;
		// partition 2's log start (20) is below its commit (45), which
		// skips nothing.
		want := []mirror.ExpiredRange{{Topic: "orders", Partition: 0, From: 10, Until: 30, Count: 20}}
		assertExpired(t, m, loadState(t, pair, "expire"), want)
		assertStartedAt(t, pair, "expire", map[int32]int64{0: 30, 1: 5, 2: 45})
	})
}
