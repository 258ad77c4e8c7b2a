package kafkatest_test

import (
	"maps"
	"testing"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestPythonTransactions writes transactions with librdkafka, every third
// aborted after its records reached the log, and counts them back: a
// read_committed librdkafka consumer reads exactly the committed records,
// a read_uncommitted one all of them.
func TestPythonTransactions(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	py := kafkatest.NewPython(t, c)
	topic := kafkatest.TopicName(t, "txn")
	c.CreateTopic(t, topic, 2, nil)
	const records = 2000
	got, err := py.ProduceTransactions(ctx(t), kafkatest.Transactions{
		Topic: topic, Partitions: 2, Records: records, PerTxn: 200, AbortEvery: 3, ValueBytes: 140,
		TransactionalID: topic + "-producer",
	})
	if err != nil {
		t.Fatal(err)
	}
	// 10 transactions of 200, 100 per partition each: the 3rd, 6th and
	// 9th are aborted.
	want := kafkatest.TxnProduced{Transactions: 10, TxnCounts: kafkatest.TxnCounts{Committed: 1400, Aborted: 600},
		Partitions: map[int32]kafkatest.TxnCounts{0: {Committed: 700, Aborted: 300}, 1: {Committed: 700, Aborted: 300}}}
	if got.Transactions != want.Transactions || got.TxnCounts != want.TxnCounts || !maps.Equal(got.Partitions, want.Partitions) {
		t.Errorf("produced %+v, want %+v", got, want)
	}

	counts, err := py.CountCommitted(ctx(t), topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	for p, w := range got.Partitions {
		if c := counts[p]; c != (kafkatest.Count{Records: w.Committed, Distinct: w.Committed}) {
			t.Errorf("read_committed partition %d: %+v, want %d records, all distinct, none from aborted transactions", p, c, w.Committed)
		}
	}
	// The aborted records are in the log: 100 records and a marker per
	// transaction and partition.
	all := c.ConsumeAllUncommitted(t, topic)
	if len(all) != records {
		t.Errorf("read_uncommitted: %d records, want %d", len(all), records)
	}
	ends, err := c.Admin(t).ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	for p, w := range got.Partitions {
		o, _ := ends.Lookup(topic, p)
		if txns := int64(got.Transactions); o.Offset != int64(w.Committed+w.Aborted)+txns {
			t.Errorf("partition %d ends at %d, want %d records and %d markers", p, o.Offset, w.Committed+w.Aborted, txns)
		}
	}
}
