package gateway_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestRestartAdoptsProducers stops a gateway between two writes of an
// idempotent producer and starts a new process on the same address: the
// client reconnects by itself and goes on with its sequence numbers,
// which the new gateway (that never saw them) adopts; every record is on
// the source once, in order, and the application sees no error.
func TestRestartAdoptsProducers(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	opts := gatewayOptions(t, pair, name, topic)
	ensureState(t, pair, name)
	first, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- first.Run(ctx) }()
	t.Cleanup(cancel)
	cl := clientTo(t, first.Addr())
	produceSync(t, cl, topic, 0, 100)
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("first gateway: %v", err)
	}

	opts.Listen = first.Addr()
	second := startGateway(t, pair, opts)
	produceSync(t, cl, topic, 100, 200)
	assertValues(t, "source", pair.Source.ConsumeAll(t, topic), 0, 200, -1)
	if st := second.Stats(); st.SourceRecords != 100 || st.Duplicates != 0 {
		t.Errorf("second gateway: %d records, %d duplicates; want 100, 0", st.SourceRecords, st.Duplicates)
	}
}

// TestRestartDuplicatesInFlightBatch pins the stated limit of a restart:
// a batch the first gateway wrote upstream, whose answer the client never
// got, is written again when the client retries it at a new gateway
// process (which has no memory of the client's sequences). Everything
// else is exactly once, and the application sees no error.
func TestRestartDuplicatesInFlightBatch(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	opts := gatewayOptions(t, pair, name, topic)
	ensureState(t, pair, name)
	first, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- first.Run(ctx) }()
	t.Cleanup(cancel)
	fd := kafkatest.NewFaultDialer()
	cl := clientTo(t, first.Addr(), kgo.Dialer(fd.DialContext))
	produceSync(t, cl, topic, 0, 10)

	// The answer to record 10 is lost and the client cannot reconnect
	// until the gateway has been replaced.
	fd.LoseResponses(kmsg.Produce.Int16(), 1)
	fd.RefuseFor(time.Hour)
	var p asyncProducer
	p.produce(t.Context(), cl, rec(topic, 10))
	waitFor(t, func() bool { return fd.Stats().Lost == 1 && first.Stats().SourceRecords == 11 })
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("first gateway: %v", err)
	}
	opts.Listen = first.Addr()
	second := startGateway(t, pair, opts)
	fd.RefuseFor(0)
	p.wg.Wait()
	if acked, errs := p.counts(); acked != 1 || len(errs) != 0 {
		t.Fatalf("record 10: %d acknowledged, errors %v", acked, errs)
	}
	produceSync(t, cl, topic, 11, 20)

	var got []string
	for _, r := range pair.Source.ConsumeAll(t, topic) {
		if r.Partition == 1 {
			got = append(got, string(r.Value))
		}
	}
	if want := []string{"1", "4", "7", "10", "10", "13", "16", "19"}; !slices.Equal(got, want) {
		t.Errorf("source partition 1: %v, want %v (record 10 twice)", got, want)
	}
	if st := second.Stats(); st.SourceRecords != 10 || st.Duplicates != 0 {
		t.Errorf("second gateway: %d records, %d duplicates; want 10, 0", st.SourceRecords, st.Duplicates)
	}
}

// waitFor polls cond (a state the test waits for, not a timing guess) for
// up to 30s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
