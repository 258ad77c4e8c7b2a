package status

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// writeAborted writes n records with timestamps from ts to topic/0 in a
// transaction flushed to the log, then aborted.
func writeAborted(t *testing.T, c *kafkatest.Cluster, topic string, n int, ts time.Time) {
	t.Helper()
	cl := c.Client(t, kgo.TransactionalID("status-aborted"), kgo.DefaultProduceTopic(topic))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		cl.Produce(t.Context(), &kgo.Record{Value: make([]byte, 2000), Timestamp: ts.Add(time.Duration(i) * time.Millisecond)}, nil)
	}
	if err := cl.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(t.Context(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

// An aborted native transaction in the target's tail (flushed, larger
// than one fetch) is not a native write, and an aborted transaction
// before the first uncopied source record is not that record, read
// through a connection that strips the aborted-transactions lists.
func TestReadsSkipAbortedTransactions(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	c.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	old, aborted := time.UnixMilli(1_700_000_000_000).UTC(), time.UnixMilli(1_800_000_000_000).UTC()
	var natives []*kgo.Record
	for i := range 3 {
		natives = append(natives, &kgo.Record{Topic: "orders", Timestamp: old.Add(time.Duration(i) * time.Second)})
	}
	c.Produce(t, natives[:1]...)
	writeAborted(t, c, "orders", 150, aborted)
	c.Produce(t, natives[1:]...)
	writeAborted(t, c, "orders", 30, aborted)

	omit := kafkatest.NewFaultDialer()
	omit.OmitAbortedTransactions()
	cl := c.Client(t, kgo.Dialer(omit.DialContext))
	adm := c.Admin(t)
	ends, err := adm.ListEndOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	got, err := nativeTail(t.Context(), inputs{Clusters: Clusters{Target: cl, SourceID: "source-cluster"}}, "orders", "orders", offsets{tgtEnds: ends, tgtStarts: starts})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, time.Time.Compare)
	want := []time.Time{old, old.Add(time.Second), old.Add(2 * time.Second)}
	if !slices.Equal(got, want) {
		t.Errorf("native writes in the tail: %v, want %v", got, want)
	}

	// The first readable record at or after offset 1 (the start of the
	// first aborted transaction) is natives[1].
	stable, err := adm.ListCommittedOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	firsts, err := firstRecords(t.Context(), cl, "orders", map[int32]int64{0: 1}, stable)
	if err != nil {
		t.Fatal(err)
	}
	if ts, ok := firsts[0]; !ok || !ts.Equal(natives[1].Timestamp) {
		t.Errorf("first record from offset 1: %v (%v), want %v", ts, ok, natives[1].Timestamp)
	}
	if omit.AbortedListsStripped() == 0 {
		t.Error("no aborted list was stripped: the broker condition was not simulated")
	}
}
