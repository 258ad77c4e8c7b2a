package kafkatest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestOmitAbortedTransactions checks the device: through it, a
// read_committed consumer receives the records of an aborted transaction
// that the broker's list would have filtered out.
func TestOmitAbortedTransactions(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	c.CreateTopic(t, "t", 1, nil)
	txn := c.Client(t, kgo.TransactionalID("omit-test"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i, commit := range []bool{true, false, true} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			txn.Produce(ctx(t), &kgo.Record{Topic: "t", Value: fmt.Appendf(nil, "%d-%d", i, j)}, nil)
		}
		// Flushed before the end, so the records reach the log.
		if err := txn.Flush(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx(t), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	read := func(fd *kafkatest.FaultDialer) []string {
		cl := c.Client(t, kgo.Dialer(fd.DialContext), kgo.ConsumeTopics("t"),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []string
		ctx, cancel := context.WithTimeout(ctx(t), 30*time.Second)
		defer cancel()
		for len(got) < 30 {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				break
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			// The end: the last committed record.
			if len(got) > 0 && got[len(got)-1] == "2-9" {
				break
			}
		}
		return got
	}
	plain := kafkatest.NewFaultDialer()
	if got := read(plain); len(got) != 20 || got[10] != "2-0" {
		t.Fatalf("through a plain connection: %d records %v, want the 20 committed ones", len(got), got)
	}
	omit := kafkatest.NewFaultDialer()
	omit.OmitAbortedTransactions()
	if got := read(omit); len(got) != 30 || got[10] != "1-0" || got[19] != "1-9" {
		t.Fatalf("without the aborted list: %d records %v, want all 30 with the aborted 1-0..1-9", len(got), got)
	}
	if n := omit.AbortedListsStripped(); n == 0 {
		t.Fatal("no aborted list was stripped")
	}
	if n := plain.AbortedListsStripped(); n != 0 {
		t.Fatalf("the plain dialer stripped %d lists", n)
	}
}
