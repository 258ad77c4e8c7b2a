package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
)

// TestStateReadEndsAtAbortedTransaction: a read of the state reaches its
// end when the last records are an aborted transaction and its marker,
// with nothing written after (kmigrate promote reads without writing
// first; it waited forever for a record that never came).
func TestStateReadEndsAtAbortedTransaction(t *testing.T) {
	const name = "m1"
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	ensureState(t, pair, name)
	topic := state.TopicName(name)
	txn := pair.Target.Client(t, kgo.TransactionalID("aborter"), kgo.DefaultProduceTopic(topic))
	ctx := t.Context()
	for _, commit := range []bool{true, false} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := txn.ProduceSync(ctx, &kgo.Record{Key: []byte("promoted/orders"), Value: []byte(`{"topic":"orders"}`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second) // hang guard
	defer cancel()
	v, err := stateStore(t, pair, name).Read(rctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !v.Promoted["orders"] {
		t.Errorf("promoted %v, want orders (committed before the aborted transaction)", v.Promoted)
	}
}
