package gateway_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestTwoGatewaysSwitchTogether: two gateways serve one migration, each
// with its own idempotent producer. Gateway a promotes the topic; gateway
// b holds its writes too and acknowledges before the lag is drained, so
// at the moment the promotion is recorded both hold the topic and no
// write of either is acknowledged. Afterwards both write to the target,
// which holds each producer's records exactly once, in order, copies
// first.
func TestTwoGatewaysSwitchTogether(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	startMirror(t, pair, name, topic)
	optsA := gatewayOptions(t, pair, name, topic)
	optsA.ID = "gw-a"
	gated := &gatedStore{Store: stateStore(t, pair, name), promoting: make(chan struct{}), gate: make(chan struct{})}
	optsA.Store = gated
	gwA := startGateway(t, pair, optsA)
	optsB := gatewayOptions(t, pair, name, topic)
	optsB.ID = "gw-b"
	gwB := startGateway(t, pair, optsB)
	cA, cB := client(t, gwA), client(t, gwB)

	produceSync(t, cA, topic, 0, 150)
	produceSync(t, cB, topic, 1000, 1150)
	waitMembers(t, gated, "gw-a", "gw-b")

	switched := make(chan error, 1)
	var sw *gateway.Switch
	go func() {
		var err error
		sw, err = gwA.Promote(t.Context(), topic)
		switched <- err
	}()
	<-gated.promoting
	for _, gw := range []*gateway.Server{gwA, gwB} {
		if side, _ := gw.Route(topic); side != gateway.Holding {
			t.Fatalf("route while the promotion is recorded: %v, want holding", side)
		}
	}
	var held asyncProducer
	for i := 150; i < 300; i++ {
		held.produce(t.Context(), cA, rec(topic, i))
		held.produce(t.Context(), cB, rec(topic, 1000+i))
	}
	if acked, errs := held.counts(); acked != 0 || len(errs) != 0 {
		t.Fatalf("while held: %d acknowledged, errors %v; want none", acked, errs)
	}
	close(gated.gate)
	if err := <-switched; err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if !slices.Equal(sw.Members, []string{"gw-b"}) {
		t.Errorf("switch held by %v, want [gw-b]", sw.Members)
	}
	held.wg.Wait()
	if acked, errs := held.counts(); acked != 300 || len(errs) != 0 {
		t.Fatalf("held records: %d acknowledged, errors %v; want 300, none", acked, errs)
	}
	produceSync(t, cA, topic, 300, 350)
	produceSync(t, cB, topic, 1300, 1350)

	streams := [][2]int{{0, 350}, {1000, 1350}}
	copied := func(i int) bool { return i < 150 || (i >= 1000 && i < 1150) }
	assertStreams(t, "source", pair.Source.ConsumeAll(t, topic), [][2]int{{0, 150}, {1000, 1150}}, func(int) bool { return false })
	assertStreams(t, "target", pair.Target.ConsumeAll(t, topic), streams, copied)
	// Gateway b learned the offset space from the state: reading through
	// it gives the source's records, then the natives, once each.
	assertStreams(t, "through gateway b", consumeThrough(t, gwB, topic, 700), streams, func(int) bool { return false })
	a, b := gwA.Stats(), gwB.Stats()
	if a.SourceRecords != 150 || b.SourceRecords != 150 || a.TargetRecords != 200 || b.TargetRecords != 200 {
		t.Errorf("records to source/target: a %d/%d, b %d/%d; want 150/200 each", a.SourceRecords, a.TargetRecords, b.SourceRecords, b.TargetRecords)
	}
}

// waitMembers reads the state until it lists the gateways ids as live
// members (they heartbeat every PollInterval).
func waitMembers(t *testing.T, st gateway.Store, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := st.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, id := range ids {
			if _, ok := v.Members[id]; ok {
				n++
			}
		}
		if n == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("members %v, want %v", v.Members, ids)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not deciding the outcome
	}
}

// assertStreams checks that rs holds, per partition p and per stream
// [from, to), the values i of the stream with i%3 == p in order, nothing
// else, and that in each partition the records with copied(i) carry a
// tracing header, come first, and the others do not.
func assertStreams(t *testing.T, where string, rs []*kgo.Record, streams [][2]int, copied func(int) bool) {
	t.Helper()
	got := map[int32]map[int][]int{} // partition -> stream -> values
	natives := map[int32]bool{}
	for _, r := range rs {
		i, err := strconv.Atoi(string(r.Value))
		if err != nil {
			t.Fatalf("%s: value %q", where, r.Value)
		}
		_, traced, _ := trace.Find(r.Headers)
		if traced != copied(i) {
			t.Errorf("%s partition %d: record %d traced %v, want %v", where, r.Partition, i, traced, copied(i))
		}
		if traced && natives[r.Partition] {
			t.Errorf("%s partition %d: copy %d after a native record", where, r.Partition, i)
		}
		natives[r.Partition] = natives[r.Partition] || !traced
		s := slices.IndexFunc(streams, func(st [2]int) bool { return i >= st[0] && i < st[1] })
		if got[r.Partition] == nil {
			got[r.Partition] = map[int][]int{}
		}
		got[r.Partition][s] = append(got[r.Partition][s], i)
	}
	for p := range int32(3) {
		for s, st := range streams {
			var want []int
			for i := st[0]; i < st[1]; i++ {
				if int32(i%3) == p {
					want = append(want, i)
				}
			}
			if !slices.Equal(got[p][s], want) {
				t.Errorf("%s partition %d stream %v: %v, want %v", where, p, st, got[p][s], want)
			}
		}
		if _, ok := got[p][-1]; ok {
			t.Errorf("%s partition %d: values outside every stream: %v", where, p, got[p][-1])
		}
	}
}
