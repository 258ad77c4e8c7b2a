package gateway_test

import (
	"context"
	"testing"

	"github.com/kmigrate/kmigrate/internal/gateway"
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
