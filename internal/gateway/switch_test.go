package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// rec is record i of the switch tests: partition i%3, value i.
func rec(topic string, i int) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i%7), Value: []byte(strconv.Itoa(i))}
}

// produceSync writes records from..to-1 and fails on any error.
func produceSync(t *testing.T, cl *kgo.Client, topic string, from, to int) {
	t.Helper()
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, rec(topic, i))
	}
	if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatalf("produce %d..%d through the gateway: %v", from, to, err)
	}
}

// asyncProducer writes records without waiting and counts the outcomes.
type asyncProducer struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	started int
	acked   int
	errs    []error
}

func (p *asyncProducer) produce(ctx context.Context, cl *kgo.Client, r *kgo.Record) {
	p.mu.Lock()
	p.started++
	p.mu.Unlock()
	p.wg.Add(1)
	cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
		defer p.wg.Done()
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.errs = append(p.errs, err)
			return
		}
		p.acked++
	})
}

// pending is the number of writes without an outcome yet.
func (p *asyncProducer) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started - p.acked - len(p.errs)
}

func (p *asyncProducer) counts() (int, []error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked, slices.Clone(p.errs)
}

// TestPromoteThroughGateway drives an idempotent franz-go producer through
// the gateway across a promotion: 300 records before it (to the source,
// copied by a running mirror), 300 written while the switch holds the
// topic (after the drain and lag zero, before the promotion is recorded),
// 300 after. No produce fails, the held records are not acknowledged
// before the switch, and the target holds every record exactly once per
// partition in order: the copies of the source's records, then the
// records written natively.
func TestPromoteThroughGateway(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	mirrorDone := startMirror(t, pair, name, topic)
	opts := gatewayOptions(t, pair, name, topic)
	gated := &gatedStore{Store: stateStore(t, pair, name), promoting: make(chan struct{}), gate: make(chan struct{})}
	opts.Store = gated
	gw := startGateway(t, pair, opts)
	cl := client(t, gw)

	produceSync(t, cl, topic, 0, 300)
	type outcome struct {
		sw  *gateway.Switch
		err error
	}
	switched := make(chan outcome, 1)
	go func() {
		sw, err := gw.Promote(t.Context(), topic)
		switched <- outcome{sw, err}
	}()
	<-gated.promoting
	if side, _ := gw.Route(topic); side != gateway.Holding {
		t.Fatalf("route while the promotion is recorded: %v, want holding", side)
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
		t.Fatalf("Promote: %v", out.err)
	}
	held.wg.Wait()
	if acked, errs := held.counts(); acked != 300 || len(errs) != 0 {
		t.Fatalf("held records: %d acknowledged, errors %v; want 300, none", acked, errs)
	}
	produceSync(t, cl, topic, 600, 900)

	if want := map[int32]int64{0: 100, 1: 100, 2: 100}; !mapsEqual(out.sw.Ends, want) {
		t.Errorf("switch waited for source ends %v, want %v", out.sw.Ends, want)
	}
	// The mirror keeps running (stopping promoted topics is the job of
	// the migrate runner): the source has no new record to copy.
	select {
	case err := <-mirrorDone:
		t.Fatalf("mirror stopped: %v", err)
	default:
	}
	assertSwitched(t, pair, topic, 300, 900)
	// Through the gateway the topic has one offset space: the source's
	// records below its end at the switch, the target's natives after.
	assertValues(t, "through the gateway", consumeThrough(t, gw, topic, 900), 0, 900, -1)
	st := gw.Stats()
	if st.SourceRecords != 300 || st.TargetRecords != 600 || st.Duplicates != 0 || st.Pauses[topic] != out.sw.Pause || out.sw.Pause <= 0 {
		t.Errorf("stats %+v, switch %+v", st, out.sw)
	}
	if v := readState(t, pair, name); !v.Promoted[topic] || len(v.Holds) != 0 {
		t.Errorf("state: promoted %v, holds %v; want %s promoted, no hold", v.Promoted, v.Holds, topic)
	}

	cfg := &config.Config{Name: name, Source: pair.Source.Config, Target: pair.Target.Config}
	gotName, topics, err := gateway.Resolve(t.Context(), cfg, logger(t))
	if err != nil || gotName != name || !slices.Equal(topics, []gateway.Topic{{Source: topic, Target: topic}}) {
		t.Errorf("Resolve: %q %v %v", gotName, topics, err)
	}
	cfg.Name = ""
	if _, _, err := gateway.Resolve(t.Context(), cfg, logger(t)); !errors.Is(err, gateway.ErrNoMirror) {
		t.Errorf("Resolve of the default name (no mirror ran under it): %v, want ErrNoMirror", err)
	}
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// assertSwitched checks that the source holds records 0..split-1 of rec
// and the target, partition by partition and in order, the copies of
// those (with tracing headers) followed by records split..total-1 written
// natively (without).
func assertSwitched(t *testing.T, pair *kafkatest.Pair, topic string, split, total int) {
	t.Helper()
	assertValues(t, "source", pair.Source.ConsumeAll(t, topic), 0, split, -1)
	assertValues(t, "target", pair.Target.ConsumeAll(t, topic), 0, total, split)
}

// assertValues checks that rs holds, per partition p, the values i in
// [from, to) with i%3 == p, in order; records before copiedBelow carry a
// tracing header and the others do not (copiedBelow -1: none do).
func assertValues(t *testing.T, where string, rs []*kgo.Record, from, to, copiedBelow int) {
	t.Helper()
	got := map[int32][]string{}
	traced := map[int32][]bool{}
	for _, r := range rs {
		got[r.Partition] = append(got[r.Partition], string(r.Value))
		_, ok, err := trace.Find(r.Headers)
		if err != nil {
			t.Errorf("%s: bad tracing header: %v", where, err)
		}
		traced[r.Partition] = append(traced[r.Partition], ok)
	}
	for p := range int32(3) {
		var want []string
		var wantTraced []bool
		for i := from; i < to; i++ {
			if int32(i%3) == p {
				want = append(want, strconv.Itoa(i))
				wantTraced = append(wantTraced, i < copiedBelow)
			}
		}
		if !slices.Equal(got[p], want) {
			t.Errorf("%s partition %d: values %v, want %v", where, p, got[p], want)
		}
		if !slices.Equal(traced[p], wantTraced) {
			t.Errorf("%s partition %d: copies (tracing header) %v, want %v", where, p, traced[p], wantTraced)
		}
	}
}

// TestSwitchAbortedWhenMirrorLags: with no mirror running, the lag never
// reaches zero, so the switch is undone after its bound: writes resume to
// the source, nothing is recorded, and a later produce succeeds there.
func TestSwitchAbortedWhenMirrorLags(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	opts := gatewayOptions(t, pair, name, topic)
	opts.SwitchTimeout = 500 * time.Millisecond
	gw := startGateway(t, pair, opts)
	cl := client(t, gw)
	produceSync(t, cl, topic, 0, 30)

	_, err := gw.Promote(t.Context(), topic)
	if !errors.Is(err, gateway.ErrSwitchAborted) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Promote with a stopped mirror: %v, want ErrSwitchAborted after its bound", err)
	}
	if side, _ := gw.Route(topic); side != gateway.Source {
		t.Errorf("route after an aborted switch: %v, want source", side)
	}
	produceSync(t, cl, topic, 30, 60)
	assertValues(t, "source", pair.Source.ConsumeAll(t, topic), 0, 60, -1)
	if got := pair.Target.ConsumeAll(t, topic); len(got) != 0 {
		t.Errorf("target holds %d records, want none", len(got))
	}
	if v := readState(t, pair, name); len(v.Promoted) != 0 || len(v.Holds) != 0 {
		t.Errorf("an aborted switch left promoted %v, holds %v", v.Promoted, v.Holds)
	}
	if st := gw.Stats(); st.Aborted[topic] != 1 || st.SourceRecords != 60 {
		t.Errorf("stats %+v", st)
	}
	if _, err := gw.Promote(t.Context(), "payments"); !errors.Is(err, gateway.ErrUnknownTopic) {
		t.Errorf("Promote of a topic outside the migration: %v, want ErrUnknownTopic", err)
	}
}

// TestHeldPastBound: writes held longer than HoldTimeout are answered
// REQUEST_TIMED_OUT, which the client retries by itself with the same
// sequence numbers; once the switch completes they land on the target
// once each, in order, and the application sees no error.
func TestHeldPastBound(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	startMirror(t, pair, name, topic)
	opts := gatewayOptions(t, pair, name, topic)
	opts.HoldTimeout = 200 * time.Millisecond
	gated := &gatedStore{Store: stateStore(t, pair, name), promoting: make(chan struct{}), gate: make(chan struct{})}
	opts.Store = gated
	gw := startGateway(t, pair, opts)
	cl := client(t, gw)
	produceSync(t, cl, topic, 0, 30)

	switched := make(chan error, 1)
	go func() {
		_, err := gw.Promote(t.Context(), topic)
		switched <- err
	}()
	<-gated.promoting
	var held asyncProducer
	for i := 30; i < 60; i++ {
		held.produce(t.Context(), cl, rec(topic, i))
	}
	waitFor(t, func() bool { return gw.Stats().HeldTimeouts >= 3 })
	close(gated.gate)
	if err := <-switched; err != nil {
		t.Fatalf("Promote: %v", err)
	}
	held.wg.Wait()
	if acked, errs := held.counts(); acked != 30 || len(errs) != 0 {
		t.Fatalf("held records: %d acknowledged, errors %v; want 30, none", acked, errs)
	}
	assertSwitched(t, pair, topic, 30, 60)
}
