package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
)

// member is a Runner running in the background, as one process of a
// migration.
type member struct {
	name string
	r    *migrate.Runner
	stop context.CancelFunc
	done chan error
}

func startMember(t *testing.T, pair *kafkatest.Pair, name string, cfg *config.Config, opts ...migration.Option) *member {
	t.Helper()
	h := pair.Open(t, "", cfg, opts...)
	r, err := migrate.New(t.Context(), h, migrate.Options{Units: 4, SessionTimeout: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	m := &member{name: name, r: r, stop: cancel, done: make(chan error, 1)}
	go func() { m.done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-m.done })
	return m
}

// waitUnits waits until the members own every unit between them, each
// some, none twice, and the owner of unit 0 is the one leader.
func waitUnits(t *testing.T, what string, ms ...*member) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		var all []int
		leaders, ok := 0, true
		for _, m := range ms {
			owned := m.r.Owned()
			all = append(all, owned...)
			ok = ok && len(owned) > 0
			if m.r.Leader() {
				leaders++
				ok = ok && slices.Contains(owned, 0)
			}
		}
		slices.Sort(all)
		if ok && leaders == 1 && slices.Equal(all, []int{0, 1, 2, 3}) {
			for _, m := range ms {
				t.Logf("%s: %s owns units %v, leader %v", what, m.name, m.r.Owned(), m.r.Leader())
			}
			return
		}
		for _, m := range ms {
			select {
			case err := <-m.done:
				m.done <- err // for the cleanup
				t.Fatalf("waiting for %s: %s's Run returned %v", what, m.name, err)
			default:
			}
		}
		if time.Now().After(deadline) {
			for _, m := range ms {
				t.Logf("%s owns %v, leader %v", m.name, m.r.Owned(), m.r.Leader())
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMembersShareUnits: three processes of one migration of 4 units share
// them through the units group on the target while records are written;
// one stops cleanly (leaves), one dies (its connections to the target
// fail, so its session times out), and the last ends up owning every unit
// and the once-per-migration work. The target equals the source record by
// record, with no duplicate.
func TestMembersShareUnits(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 8, map[string]string{"retention.ms": "-1"})
	produce(t, pair.Source, "orders", 8, 80)
	cfg := testConfig(t, pair)
	cfg.Groups.Sync = false

	ctx, stopWriting := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { stopWriting(); wg.Wait() }()
	cl := pair.Source.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			r := &kgo.Record{Topic: "orders", Partition: int32(i % 8), Value: fmt.Appendf(nil, "live-%d", i)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil && ctx.Err() == nil {
				t.Errorf("produce: %v", err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})

	a := startMember(t, pair, "a", cfg)
	waitUnits(t, "a alone", a)
	dialer := kafkatest.NewFaultDialer()
	b := startMember(t, pair, "b", cfg, migration.ClientOpts(nil, []kgo.Opt{kgo.Dialer(dialer.DialContext)}))
	waitUnits(t, "a and b", a, b)
	c := startMember(t, pair, "c", cfg)
	waitUnits(t, "a, b and c", a, b, c)
	// A new source topic: the leader creates it on the target, and its
	// partitions in the other members' units are copied by them.
	pair.Source.CreateTopic(t, "payments", 4, map[string]string{"retention.ms": "-1"})
	produce(t, pair.Source, "payments", 4, 40)
	waitFor(t, "payments on the target", func() bool { return countValues(values(t, pair.Target, "payments")) == 40 })

	a.stop() // leaves the group
	if err := <-a.done; err != nil {
		t.Fatalf("a: Run returned %v after a stop, want nil", err)
	}
	a.done <- nil // for the cleanup
	waitUnits(t, "b and c after a left", b, c)

	dialer.RefuseFor(time.Hour) // b dies: the target is gone for it
	dialer.DropAll()
	waitUnits(t, "c after b died", c)

	stopWriting()
	wg.Wait()
	want := values(t, pair.Source, "orders")
	waitFor(t, "the target to catch up", func() bool { return countValues(values(t, pair.Target, "orders")) == countValues(want) })
	b.stop()
	dialer.RefuseFor(0) // so that b can close its clients
	<-b.done
	b.done <- nil
	c.stop()
	if err := <-c.done; err != nil {
		t.Fatalf("c: Run returned %v after a stop, want nil", err)
	}
	c.done <- nil
	for _, topic := range []string{"orders", "payments"} {
		want, got := values(t, pair.Source, topic), values(t, pair.Target, topic)
		if !maps.EqualFunc(want, got, slices.Equal) {
			t.Errorf("%s: target differs from the source: %d records, source %d", topic, countValues(got), countValues(want))
			for p := range want {
				if !slices.Equal(want[p], got[p]) {
					t.Errorf("%s partition %d: %d records on the target, %d on the source", topic, p, len(got[p]), len(want[p]))
				}
			}
		}
	}
	t.Logf("%d records copied by three processes; copies by a %d, b %d, c %d", countValues(want), a.r.Stats().Records, b.r.Stats().Records, c.r.Stats().Records)
}

func values(t *testing.T, c *kafkatest.Cluster, topic string) map[int32][]string {
	t.Helper()
	out := map[int32][]string{}
	md, err := c.Admin(t).Metadata(t.Context(), topic)
	if err != nil || md.Topics[topic].Err != nil {
		return out // not created yet
	}
	for _, r := range c.ConsumeAll(t, topic) {
		out[r.Partition] = append(out[r.Partition], string(r.Value))
	}
	return out
}

func countValues(m map[int32][]string) int {
	n := 0
	for _, vs := range m {
		n += len(vs)
	}
	return n
}

// TestMembersStartTogether: two processes of a new migration of 4 units
// started at the same moment. Both claim and create the target topic;
// neither may refuse it as created by someone else (each plans again with
// its claims as the migration's own). One may still be blocked in the
// narrow window before its claim (docs/scaling.md: start it again), and
// started again it resumes into it. They end sharing the units, and the
// target equals the source.
func TestMembersStartTogether(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 8, map[string]string{"retention.ms": "-1"})
	produce(t, pair.Source, "orders", 8, 400)
	cfg := testConfig(t, pair)
	cfg.Groups.Sync = false
	ms := []*member{startMember(t, pair, "a", cfg), startMember(t, pair, "b", cfg)}
	restarts := 0
	deadline := time.Now().Add(120 * time.Second)
	for len(ms[0].r.Owned()) == 0 || len(ms[1].r.Owned()) == 0 {
		for i, m := range ms {
			select {
			case err := <-m.done:
				m.done <- err // for the cleanup
				if err == nil || !errors.Is(err, migrate.ErrBlocked) || restarts > 0 {
					t.Fatalf("%s: Run returned %v", m.name, err)
				}
				restarts++
				t.Logf("%s exited at the start: %v; started again", m.name, err)
				ms[i] = startMember(t, pair, m.name+"-again", cfg)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for both members to own units")
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitUnits(t, "two members", ms...)
	want := values(t, pair.Source, "orders")
	waitFor(t, "the target to catch up", func() bool { return countValues(values(t, pair.Target, "orders")) == 400 })
	for _, m := range ms {
		m.stop()
		if err := <-m.done; err != nil {
			t.Errorf("%s: Run returned %v after a stop, want nil", m.name, err)
		}
		m.done <- nil
	}
	if got := values(t, pair.Target, "orders"); !maps.EqualFunc(want, got, slices.Equal) {
		t.Errorf("target differs from the source: %d records, source %d", countValues(got), countValues(want))
	}
}
