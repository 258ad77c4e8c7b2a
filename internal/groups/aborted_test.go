package groups_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// abortOnTarget writes recs on the target in a transaction of producer
// txnID, flushed to the log, then aborted: what a mirror killed in the
// middle of a transaction, or a native producer that aborts, leaves.
func abortOnTarget(t *testing.T, pair *kafkatest.Pair, txnID string, recs []*kgo.Record) {
	t.Helper()
	cl := pair.Target.Client(t, kgo.TransactionalID(txnID), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		cl.Produce(t.Context(), r, nil)
	}
	if err := cl.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(t.Context(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

// abortedFixture mirrors orders/0 (s-0..s-1499, about 1 KiB each) in two
// runs; between them the target receives, before the copies of
// s-300..s-1499, an aborted native transaction (n-0..n-199, no tracing
// header) and three aborted transactions of copies of s-300..s-1499 (with
// tracing headers, as a killed mirror leaves them), each larger than a
// fetch. It returns the target offset of each copy.
func abortedFixture(t *testing.T, pair *kafkatest.Pair) map[int64]int64 {
	t.Helper()
	createTopic(t, pair, "orders", 1, nil)
	pad := bytes.Repeat([]byte("x"), 1000)
	rec := func(v string) *kgo.Record {
		return &kgo.Record{Topic: "orders", Key: []byte(v), Value: append([]byte(v+"|"), pad...)}
	}
	var src []*kgo.Record
	for i := range 1500 {
		src = append(src, rec(fmt.Sprintf("s-%d", i)))
	}
	pair.Source.Produce(t, src[:300]...)
	mirrorOnce(t, pair, "m1", "orders")
	pair.Source.Produce(t, src[300:]...)
	var natives []*kgo.Record
	for i := range 200 {
		natives = append(natives, rec(fmt.Sprintf("n-%d", i)))
	}
	abortOnTarget(t, pair, "native-app", natives)
	enc := trace.NewEncoder(pair.Source.ID, "orders")
	for range 3 {
		var cps []*kgo.Record
		for _, s := range src[300:] {
			c := rec(string(s.Key))
			c.Headers = []kgo.RecordHeader{{Key: trace.HeaderKey, Value: enc.Append(nil, 0, s.Offset, s.Timestamp.UnixMilli())}}
			cps = append(cps, c)
		}
		abortOnTarget(t, pair, "kmigrate-killed", cps)
	}
	mirrorOnce(t, pair, "m1", "orders")
	at := copies(t, pair, "orders", 0)
	if len(at) != 1500 || at[300] < 300+200+3*1200 {
		t.Fatalf("fixture: %d copies, copy of 300 at %d: want it after the aborted records", len(at), at[300])
	}
	return at
}

// Groups migrate where aborted transactions (native records and a killed
// mirror's copies) lie between the last copy a group consumed and the copy
// of its next record, and before the copy a translation points at: the
// group moves exactly there, counting no native record, and a consumer
// resuming there reads every later record once. Through kfake and through
// a connection that strips every aborted-transactions list.
func TestMigrateOverAbortedTransactions(t *testing.T) {
	pair := newPair(t)
	at := abortedFixture(t, pair)
	omit := kafkatest.NewFaultDialer()
	omit.OmitAbortedTransactions()
	readers := []struct {
		name string
		opts []kgo.Opt
	}{
		{"kfake", nil},
		{"no-aborted-list", []kgo.Opt{kgo.Dialer(omit.DialContext)}},
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			c := pair.Open(t, "m1", nil, migration.ClientOpts(nil, rd.opts))
			for _, from := range []int64{300, 900} {
				group := fmt.Sprintf("%s-%d", rd.name, from)
				pair.Source.CommitOffsets(t, group, map[string]map[int32]int64{"orders": {0: from}})
				res, err := groups.Migrate(t.Context(), c, group, groups.MigrateOptions{})
				if err != nil {
					t.Fatalf("migrate %s: %v", group, err)
				}
				if len(res.Partitions) != 1 {
					t.Fatalf("%s: %+v", group, res.Partitions)
				}
				p := res.Partitions[0]
				wantKey := fmt.Sprintf("%q", fmt.Sprintf("s-%d", from))
				if p.To != at[from] || p.Kind != groups.Exact || p.Native != 0 || p.Record == nil ||
					p.Record.Offset != at[from] || p.Record.Origin != from || p.Record.Key != wantKey {
					t.Errorf("%s: to %d, kind %s, native %d, record %+v; want %d, exact, 0, the copy of %d", group, p.To, p.Kind, p.Native, p.Record, at[from], from)
				}
				if got := pair.Target.CommittedOffsets(t, group)["orders"][0]; got != at[from] {
					t.Errorf("%s: committed %d, want %d", group, got, at[from])
				}
				got := resume(t, pair.Target, group, "orders")[0]
				var want []string
				for i := from; i < 1500; i++ {
					want = append(want, fmt.Sprintf("s-%d|", i))
				}
				for i := range got {
					got[i] = got[i][:len(want[min(i, len(want)-1)])]
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: resumed with %d records, want s-%d..s-1499", group, len(got), from)
				}
			}
		})
	}
	if omit.AbortedListsStripped() == 0 {
		t.Error("no aborted list was stripped: the broker condition was not simulated")
	}
}

// Search by tracing headers over the same target finds the committed copy
// of each source offset, never an aborted one, with the aborted lists
// stripped, at a fetch size far below the aborted transactions.
func TestSearchOverAbortedTransactions(t *testing.T) {
	pair := newPair(t)
	at := abortedFixture(t, pair)
	omit := kafkatest.NewFaultDialer()
	omit.OmitAbortedTransactions()
	cl := pair.Target.Client(t, kgo.Dialer(omit.DialContext))
	snap := loadState(t, pair, "m1")
	cp := snap.Checkpoints[state.TopicPartition{Topic: "orders", Partition: 0}]
	for _, c := range []int64{0, 299, 300, 301, 900, 1499} {
		res, err := groups.Search(t.Context(), cl, groups.SearchRequest{
			Topic: "orders", Partition: 0, Offset: c, Checkpoint: cp, FetchMaxBytes: 16 << 10,
			Source: groups.SourcePartition{ClusterID: pair.Source.ID, Topic: "orders", Partition: 0},
		})
		if err != nil {
			t.Fatalf("Search(%d): %v", c, err)
		}
		if res.Kind != groups.Exact || res.Offset != at[c] {
			t.Errorf("Search(%d): %s at %d, want exact at %d", c, res.Kind, res.Offset, at[c])
		}
	}
	if omit.AbortedListsStripped() == 0 {
		t.Error("no aborted list was stripped: the broker condition was not simulated")
	}
}

// Rollback counts the native records after a group's target position
// (those it will not see on the source): an aborted native transaction
// there (flushed, larger than a fetch) is not counted, through kfake and
// without aborted lists.
func TestRollbackOverAbortedTransactions(t *testing.T) {
	pair := newPair(t)
	at := abortedFixture(t, pair)
	var c *migration.Handle
	// The group consumed on the target up to the copy of source offset
	// 900.
	pair.Target.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: at[900]}})
	pad := bytes.Repeat([]byte("y"), 1000)
	var aborted, natives []*kgo.Record
	for range 1500 {
		aborted = append(aborted, &kgo.Record{Topic: "orders", Value: pad})
	}
	for range 5 {
		natives = append(natives, &kgo.Record{Topic: "orders", Value: []byte("native")})
	}
	abortOnTarget(t, pair, "native-app", aborted[:700])
	pair.Target.Produce(t, natives[:2]...)
	abortOnTarget(t, pair, "native-app", aborted[700:])
	pair.Target.Produce(t, natives[2:]...)

	omit := kafkatest.NewFaultDialer()
	omit.OmitAbortedTransactions()
	for _, opts := range [][]kgo.Opt{nil, {kgo.Dialer(omit.DialContext)}} {
		c = pair.Open(t, "m1", nil, migration.ClientOpts(nil, opts))
		res, err := groups.Rollback(t.Context(), c, "app", groups.RollbackOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Partitions) != 1 {
			t.Fatalf("%+v", res.Partitions)
		}
		p := res.Partitions[0]
		if p.From != at[900] || p.To != 900 || p.Native != 5 {
			t.Errorf("rollback (%d options): from %d, to %d, native %d; want %d, 900, 5", len(opts), p.From, p.To, p.Native, at[900])
		}
	}
	if omit.AbortedListsStripped() == 0 {
		t.Error("no aborted list was stripped: the broker condition was not simulated")
	}
}
