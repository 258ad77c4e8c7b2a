package mirror_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// writeFlushedTransactions writes txns transactions of perPart records to
// every partition of topic with one transactional producer, each flushed
// to the log before it ends, every third aborted, and returns the number of
// committed records. Flushing first matters: a transaction aborted before
// its records were sent leaves nothing in the log to filter.
func writeFlushedTransactions(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32, txns, perPart, size int) int {
	t.Helper()
	ctx := t.Context()
	cl := c.Client(t, kgo.TransactionalID("flushed-"+topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	value := bytes.Repeat([]byte{'v'}, size)
	committed := 0
	for i := range txns {
		commit := i%3 != 2
		what := "committed"
		if !commit {
			what = "aborted"
		}
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range perPart {
			for p := range partitions {
				cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "%s %d-%d", what, i, j), Value: value}, nil)
			}
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
		if commit {
			committed += perPart * int(partitions)
		}
	}
	return committed
}

// TestAbortedSourceTransactions copies a source whose aborted transactions
// reached the log, several fetches deep in several partitions, through a
// connection that strips the aborted-transactions list from every fetch
// response (a broker that omits it): the records the source's own markers
// say were aborted must never be committed on the target, at the default
// and the smallest memory budget. A copy on plain kfake at the smallest
// budget (whose small fetches made kfake leave the list out) is exact too.
func TestAbortedSourceTransactions(t *testing.T) {
	cases := []struct {
		name   string
		budget int64
		omit   bool
	}{
		{"no aborted list, default budget", config.DefaultMemoryBudget, true},
		{"no aborted list, smallest budget", config.MinMemoryBudget, true},
		{"kfake, smallest budget", config.MinMemoryBudget, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pair := newPair(t)
			createTopic(t, pair, "txn", 3, nil)
			// 30 transactions of 100 records of ~330 bytes per partition:
			// ~1 MB per partition, more than one fetch at the smallest
			// budget (512 KiB per partition at most).
			committed := writeFlushedTransactions(t, pair.Source, "txn", 3, 30, 100, 300)
			want := pair.Source.ConsumeAll(t, "txn")
			if len(want) != committed {
				t.Fatalf("the source reads %d committed records, want %d", len(want), committed)
			}
			settings := bounded()
			settings.MemoryBudget = tc.budget
			opts := options(t, pair, "aborted", settings, "txn")
			fd := kafkatest.NewFaultDialer()
			if tc.omit {
				fd.OmitAbortedTransactions()
				opts.SourceOpts = append(opts.SourceOpts, kgo.Dialer(fd.DialContext))
			}
			m := mustNew(t, opts)
			if err := runErr(t, m, 90*time.Second); err != nil {
				t.Fatalf("Run: %v", err)
			}
			assertRecords(t, pair, "txn", want, true)
			assertExactlyOnce(t, pair, "txn", want)
			assertState(t, pair, "aborted", "txn", "txn", true)
			for _, r := range pair.Target.ConsumeAllUncommitted(t, "txn") {
				if bytes.HasPrefix(r.Key, []byte("aborted")) {
					t.Fatalf("txn/%d@%d: %q was written to the target", r.Partition, r.Offset, r.Key)
				}
			}
			st := m.Stats()
			if st.Records != int64(committed) || st.Sessions != 1 || st.Errors != 0 {
				t.Errorf("stats: records %d sessions %d errors %d (%s), want %d 1 0", st.Records, st.Sessions, st.Errors, st.LastError, committed)
			}
			if tc.omit {
				// The condition happened: lists were stripped and the
				// mirror dropped every aborted record by its marker.
				aborted := 10 * 100 * 3
				if fd.AbortedListsStripped() == 0 || st.AbortedDropped != int64(aborted) {
					t.Errorf("stripped %d lists, dropped %d aborted records, want > 0 and %d", fd.AbortedListsStripped(), st.AbortedDropped, aborted)
				}
			}
		})
	}
}

// TestSourceTransactionLargerThanBound: source transactions of ~6 MB in
// one partition, more than the 3.3 MiB a 48 MiB budget may hold, one
// committed and one aborted, through a connection without the aborted
// list. The mirror reads ahead to each marker instead of holding the whole
// transaction: the committed one is copied whole, nothing of the aborted
// one is, and the other partition is copied meanwhile.
func TestSourceTransactionLargerThanBound(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "big", 2, nil)
	ctx := t.Context()
	plain := pair.Source.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(what string, n int) {
		t.Helper()
		var rs []*kgo.Record
		for i := range n {
			for p := range int32(2) {
				rs = append(rs, &kgo.Record{Topic: "big", Partition: p, Key: fmt.Appendf(nil, "%s %d", what, i)})
			}
		}
		if err := plain.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	txn := pair.Source.Client(t, kgo.TransactionalID("big"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	value := bytes.Repeat([]byte{'x'}, 10<<10)
	large := func(commit bool) {
		t.Helper()
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		what := "committed"
		if !commit {
			what = "aborted"
		}
		for i := range 600 {
			txn.Produce(ctx, &kgo.Record{Topic: "big", Partition: 0, Key: fmt.Appendf(nil, "%s %d", what, i), Value: value}, nil)
		}
		if err := txn.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	produce("plain-a", 5)
	large(true)
	produce("plain-b", 5)
	large(false)
	produce("plain-c", 5)
	want := pair.Source.ConsumeAll(t, "big")
	if len(want) != 630 {
		t.Fatalf("the source reads %d committed records, want 630", len(want))
	}
	settings := bounded()
	settings.MemoryBudget = config.MinMemoryBudget
	settings.TransactionMaxBytes = config.MinTransactionMaxBytes
	opts := options(t, pair, "big", settings, "big")
	fd := kafkatest.NewFaultDialer()
	fd.OmitAbortedTransactions()
	opts.SourceOpts = append(opts.SourceOpts, kgo.Dialer(fd.DialContext))
	m := mustNew(t, opts)
	if err := runErr(t, m, 90*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	assertRecords(t, pair, "big", want, true)
	assertExactlyOnce(t, pair, "big", want)
	assertState(t, pair, "big", "big", "big", true)
	if st := m.Stats(); st.AbortedDropped != 600 || st.Sessions != 1 {
		t.Errorf("dropped %d aborted records in %d sessions, want 600 in 1", st.AbortedDropped, st.Sessions)
	}
}
