package mirror_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
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

// TestSourceTransactionTooLarge: a source transaction that does not end
// within what the mirror may hold stops its partition at the
// transaction's first record, with the fix in the error, and nothing of it
// is copied; the other partition is copied whole.
func TestSourceTransactionTooLarge(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "big", 2, nil)
	ctx := t.Context()
	plain := pair.Source.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for i := range 5 {
		for p := range int32(2) {
			rs = append(rs, &kgo.Record{Topic: "big", Partition: p, Value: fmt.Appendf(nil, "plain %d", i)})
		}
	}
	if err := plain.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// One transaction of ~6 MB in partition 0 only, more than the 3.3 MiB
	// a 48 MiB budget may hold.
	txn := pair.Source.Client(t, kgo.TransactionalID("big"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte{'x'}, 10<<10)
	for range 600 {
		txn.Produce(ctx, &kgo.Record{Topic: "big", Partition: 0, Value: value}, nil)
	}
	if err := txn.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	settings := bounded()
	settings.MemoryBudget = config.MinMemoryBudget
	settings.TransactionMaxBytes = config.MinTransactionMaxBytes
	m := newMirror(t, pair, "big", settings, "big")
	err := runErr(t, m, 90*time.Second)
	if err == nil {
		t.Fatal("Run succeeded; want the stopped partition reported")
	}
	var stopped string
	for _, p := range m.Stats().Partitions {
		if p.Partition == 0 {
			stopped = p.Stopped
		}
	}
	for _, want := range []string{"big/0 offset 5: the source transaction of producer id", "raise --memory-budget or transaction_max_bytes", "nothing from offset 5 on in this partition was copied"} {
		if !strings.Contains(stopped, want) {
			t.Errorf("partition 0 stopped with %q, want it to contain %q", stopped, want)
		}
	}
	snap := loadState(t, pair, "big")
	if got := snap.Checkpoints[state.TopicPartition{Topic: "big", Partition: 0}].Next; got != 5 {
		t.Errorf("big/0 checkpoint %d, want 5 (before the transaction)", got)
	}
	if got := snap.Checkpoints[state.TopicPartition{Topic: "big", Partition: 1}].Next; got != 5 {
		t.Errorf("big/1 checkpoint %d, want 5", got)
	}
	if got := len(pair.Target.ConsumeAll(t, "big")); got != 10 {
		t.Errorf("target holds %d records, want the 10 plain ones", got)
	}
}
