package mirror_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/units"
)

func newPool(t *testing.T, opts mirror.Options) *mirror.Pool {
	t.Helper()
	p, err := mirror.NewPool(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func settle(t *testing.T, p *mirror.Pool, want int) int {
	t.Helper()
	return settleFresh(t, p, want, 1)
}

// settleFresh settles p asking for want units, fresh for a new migration.
func settleFresh(t *testing.T, p *mirror.Pool, want, fresh int) int {
	t.Helper()
	n, err := p.Settle(t.Context(), want, fresh)
	if err != nil {
		t.Fatalf("Settle(%d, %d): %v", want, fresh, err)
	}
	return n
}

// runPool runs every unit of p until the bounded copy is done.
func runPool(t *testing.T, p *mirror.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	if err := p.Run(ctx, units.All(p.Units())); err != nil {
		t.Fatalf("Pool.Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Pool.Run did not finish within 120s")
	}
}

// TestUnitsUpgrade: a migration copied by kmigrate before units (one
// transactional id, no unit count in its meta) moves to 4 units. A zombie
// of the old id holds an open transaction with a stray copy and a
// checkpoint far ahead; moving to units fences it (its commit fails) and
// aborts that transaction, and the units resume from the old checkpoints:
// the target equals the source record by record, with no duplicate.
func TestUnitsUpgrade(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 6, nil)
	base := time.UnixMilli(1_700_000_000_000)
	produceRange(t, pair.Source, "orders", 6, 0, 50, base)
	run(t, newMirror(t, pair, "up", bounded(), "orders")) // the old code path
	if snap := loadState(t, pair, "up"); snap.Meta.Units != 0 || snap.Meta.Version != 1 {
		t.Fatalf("before units: meta units %d version %d, want 0 and 1", snap.Meta.Units, snap.Meta.Version)
	}
	produceRange(t, pair.Source, "orders", 6, 50, 30, base)

	zombie := pair.Target.Client(t, kgo.TransactionalID(state.TransactionalID("up")), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	ckpt, err := state.CheckpointRecord(state.TopicName("up"), state.TopicPartition{Topic: "orders", Partition: 0}, state.Checkpoint{Next: 999, TargetNext: 999})
	if err != nil {
		t.Fatal(err)
	}
	stray := &kgo.Record{Topic: "orders", Partition: 0, Key: []byte("stray"), Value: []byte("stray")}
	if err := zombie.ProduceSync(t.Context(), stray, ckpt).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// A migration of one unit keeps it when no count is asked for,
	// whatever a new migration would get (and nothing is written: the
	// zombie's transaction stays open until the move below).
	if n := settleFresh(t, newPool(t, options(t, pair, "up", bounded(), "orders")), 0, 3); n != 1 {
		t.Fatalf("Settle(0, 3) of a one-unit migration = %d, want 1", n)
	}
	p := newPool(t, options(t, pair, "up", bounded(), "orders"))
	if n := settle(t, p, 4); n != 4 {
		t.Fatalf("Settle(4) = %d", n)
	}
	if err := zombie.EndTransaction(t.Context(), kgo.TryCommit); err == nil {
		t.Fatal("the old transactional id committed after the move to units: it was not fenced")
	}
	if snap := loadState(t, pair, "up"); snap.Meta.Units != 4 || snap.Meta.Version != state.MetaVersionUnits || snap.Heartbeat == nil {
		t.Fatalf("after Settle: meta units %d version %d heartbeat %v, want 4, %d and one", snap.Meta.Units, snap.Meta.Version, snap.Heartbeat, state.MetaVersionUnits)
	}
	runPool(t, p)
	want := pair.Source.ConsumeAll(t, "orders")
	if n := assertMirrored(t, pair, "orders", "orders", true); n != 480 {
		t.Errorf("%d records compared, want 480", n)
	}
	assertExactlyOnce(t, pair, "orders", want)
	snap := assertState(t, pair, "up", "orders", "orders", true)
	for u := range 4 {
		if _, ok := snap.UnitHeartbeats[u]; !ok {
			t.Errorf("unit %d wrote no heartbeat", u)
		}
	}
	got := p.Stats()
	if got.Records != 180 || len(got.Partitions) != 6 || !got.Done {
		t.Errorf("pool stats: %d records, %d partitions, done %v; want 180, 6, true", got.Records, len(got.Partitions), got.Done)
	}
	// Per unit (the /metrics unit series): every unit ran and stopped,
	// lag 0, and the units' records add up to the pool's.
	var sum int64
	for i, u := range got.Units {
		sum += u.Records
		if u.Unit != i || u.Running || u.Lag != 0 {
			t.Errorf("unit stats %+v, want unit %d stopped with lag 0", u, i)
		}
	}
	if len(got.Units) != 4 || sum != 180 {
		t.Errorf("unit stats %+v, want 4 units copying 180 records", got.Units)
	}

	// The count is fixed: another is refused, none keeps it, and the old
	// single-id mirror refuses the migration.
	if _, err := newPool(t, options(t, pair, "up", bounded(), "orders")).Settle(t.Context(), 2, 1); !errors.Is(err, mirror.ErrUnits) || !strings.Contains(err.Error(), "pass --units 4") {
		t.Errorf("Settle(2) after 4: %v, want ErrUnits naming 4", err)
	}
	if n := settleFresh(t, newPool(t, options(t, pair, "up", bounded(), "orders")), 0, 2); n != 4 {
		t.Errorf("Settle(0, 2) = %d, want 4", n)
	}
	if err := runErr(t, newMirror(t, pair, "up", bounded(), "orders"), 60*time.Second); err == nil || !strings.Contains(err.Error(), "records 4 work units") {
		t.Errorf("single-id mirror after the move: %v, want a refusal naming 4 units", err)
	}

	// Units resume from their own checkpoints.
	produceRange(t, pair.Source, "orders", 6, 80, 10, base)
	again := newPool(t, options(t, pair, "up", bounded(), "orders"))
	settle(t, again, 0)
	runPool(t, again)
	assertMirrored(t, pair, "orders", "orders", true)
	assertExactlyOnce(t, pair, "orders", pair.Source.ConsumeAll(t, "orders"))
	if got := again.Stats().Records; got != 60 {
		t.Errorf("resumed units copied %d records, want 60", got)
	}
}

// TestUnitsContinuous: a new migration of 3 units over two topics mirrors
// continuously while the source is written to, is stopped, and a bounded
// run finishes: every record has exactly one copy, and each unit copied
// only its own partitions under its own transactional id.
func TestUnitsContinuous(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 5, nil)
	createTopic(t, pair, "payments", 2, nil)
	stopOrders := keepProducing(t, pair.Source, "orders", 5)
	defer stopOrders()
	stopPayments := keepProducing(t, pair.Source, "payments", 2)
	defer stopPayments()

	continuous := bounded()
	continuous.Until = config.UntilNever
	p := newPool(t, options(t, pair, "cont", continuous, "orders", "payments"))
	if n := settleFresh(t, p, 0, 3); n != 3 { // a new migration's default count
		t.Fatalf("Settle(0, 3) = %d", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, units.All(3)) }()
	waitFor(t, 60*time.Second, "the units to copy records", func() bool { return p.Stats().Records > 500 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Pool.Run after cancellation: %v, want nil", err)
	}
	stopOrders()
	stopPayments()

	last := newPool(t, options(t, pair, "cont", bounded(), "orders", "payments"))
	settle(t, last, 0)
	runPool(t, last)
	for _, topic := range []string{"orders", "payments"} {
		assertMirrored(t, pair, topic, topic, true)
		assertExactlyOnce(t, pair, topic, pair.Source.ConsumeAll(t, topic))
		assertState(t, pair, "cont", topic, topic, true)
	}
	// Each unit's copies were committed under its own id: the target
	// partitions of a unit hold only that unit's producer id.
	pids := map[int]map[int64]bool{}
	for _, topic := range []string{"orders", "payments"} {
		for _, r := range pair.Target.ConsumeAll(t, topic) {
			u := units.Of(topic, r.Partition, 3)
			if pids[u] == nil {
				pids[u] = map[int64]bool{}
			}
			pids[u][r.ProducerID] = true
		}
	}
	seen := map[int64]int{}
	for u, ids := range pids {
		for id := range ids {
			if other, ok := seen[id]; ok && other != u {
				t.Errorf("producer id %d copied records of units %d and %d", id, other, u)
			}
			seen[id] = u
		}
	}
	if len(pids) != 3 {
		t.Errorf("copies in %d units, want 3", len(pids))
	}
}
