package gateway_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/gateway"
)

// TestPromoteHeldHoldsGateways: a promotion from outside the gateways
// (kmigrate promote) holds a running gateway's writes like the gateway's
// own Promote: when the promotion is recorded the gateway holds the topic
// and has acknowledged nothing since; the held writes then go to the
// target, and the target holds every record once, in order, copies
// first. Through the gateway the topic keeps one offset space.
func TestPromoteHeldHoldsGateways(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	startMirror(t, pair, name, topic)
	opts := gatewayOptions(t, pair, name, topic)
	opts.ID = "gw-a"
	gw := startGateway(t, pair, opts)
	cl := client(t, gw)
	produceSync(t, cl, topic, 0, 300)
	gated := &gatedStore{Store: stateStore(t, pair, name), promoting: make(chan struct{}), gate: make(chan struct{})}
	waitMembers(t, gated, "gw-a")

	type outcome struct {
		sw  *gateway.Switch
		err error
	}
	promote := func(st gateway.Store) (*gateway.Switch, error) {
		return gateway.PromoteHeld(t.Context(), gateway.ExternalPromotion{
			Store: st, Source: pair.Source.Admin(t), Target: pair.Target.Admin(t),
			Topic: topic, TargetTopic: topic, By: "kmigrate promote", Logger: logger(t),
		})
	}
	switched := make(chan outcome, 1)
	go func() {
		sw, err := promote(gated)
		switched <- outcome{sw, err}
	}()
	<-gated.promoting
	if side, _ := gw.Route(topic); side != gateway.Holding {
		t.Fatalf("gateway route while the promotion is recorded: %v, want holding", side)
	}
	var held asyncProducer
	for i := 300; i < 600; i++ {
		held.produce(t.Context(), cl, rec(topic, i))
	}
	if acked, errs := held.counts(); acked != 0 || len(errs) != 0 {
		t.Fatalf("while held: %d acknowledged, errors %v; want none", acked, errs)
	}
	close(gated.gate)
	out := <-switched
	if out.err != nil {
		t.Fatalf("PromoteHeld: %v", out.err)
	}
	held.wg.Wait()
	if acked, errs := held.counts(); acked != 300 || len(errs) != 0 {
		t.Fatalf("held records: %d acknowledged, errors %v; want 300, none", acked, errs)
	}
	produceSync(t, cl, topic, 600, 900)
	if want := map[int32]int64{0: 100, 1: 100, 2: 100}; !mapsEqual(out.sw.Ends, want) || !slices.Equal(out.sw.Members, []string{"gw-a"}) || out.sw.Pause <= 0 {
		t.Errorf("switch %+v, want ends %v, members [gw-a], a pause", out.sw, want)
	}
	assertSwitched(t, pair, topic, 300, 900)
	assertValues(t, "through the gateway", consumeThrough(t, gw, topic, 900), 0, 900, -1)
	if st := gw.Stats(); st.SourceRecords != 300 || st.TargetRecords != 600 || st.Duplicates != 0 {
		t.Errorf("gateway stats %+v: want 300 records to the source, 600 to the target, no duplicate", st)
	}
	if v := readState(t, pair, name); !v.Promoted[topic] || len(v.Holds) != 0 {
		t.Errorf("state: promoted %v, holds %v; want %s promoted, no hold", v.Promoted, v.Holds, topic)
	}
	if _, err := promote(stateStore(t, pair, name)); !errors.Is(err, gateway.ErrNotOnSource) {
		t.Errorf("promoting it again: %v, want ErrNotOnSource", err)
	}
}

// TestLiveGateways: a gateway counts as live for its own MemberTimeout
// (3s when its heartbeat does not say) after its heartbeat.
func TestLiveGateways(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &gateway.View{Members: map[string]gateway.Member{
		"fresh":    {ID: "fresh", Time: now.Add(-time.Second)},
		"stale":    {ID: "stale", Time: now.Add(-4 * time.Second)},
		"patient":  {ID: "patient", Time: now.Add(-9 * time.Second), TimeoutMillis: 10000},
		"overdue":  {ID: "overdue", Time: now.Add(-11 * time.Second), TimeoutMillis: 10000},
		"boundary": {ID: "boundary", Time: now.Add(-3 * time.Second)},
	}}
	var ids []string
	for _, m := range gateway.LiveGateways(v, now) {
		ids = append(ids, m.ID)
	}
	if want := []string{"boundary", "fresh", "patient"}; !slices.Equal(ids, want) {
		t.Errorf("live gateways %v, want %v", ids, want)
	}
}
