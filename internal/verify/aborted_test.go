package verify_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
	"github.com/kmigrate/kmigrate/internal/verify"
)

// abortCopies writes on the target, as a mirror killed in the middle of a
// transaction leaves them, copies of src (tracing headers and all) in a
// transaction of producer txnID that is flushed to the log, then aborted;
// once per round.
func abortCopies(t *testing.T, pair *kafkatest.Pair, topic, txnID string, src []*kgo.Record, rounds int) {
	t.Helper()
	cl := pair.Target.Client(t, kgo.TransactionalID(txnID), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	enc := trace.NewEncoder(pair.Source.ID, topic)
	for range rounds {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, s := range src {
			r := &kgo.Record{Topic: topic, Partition: s.Partition, Key: s.Key, Value: s.Value, Timestamp: s.Timestamp,
				Headers: append(append([]kgo.RecordHeader(nil), s.Headers...),
					kgo.RecordHeader{Key: trace.HeaderKey, Value: enc.Append(nil, s.Partition, s.Offset, s.Timestamp.UnixMilli())})}
			cl.Produce(t.Context(), r, nil)
		}
		if err := cl.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(t.Context(), kgo.TryAbort); err != nil {
			t.Fatal(err)
		}
	}
}

// produceBig produces n records of about 1 KiB to topic/p, keys prefix-i.
func produceBig(t *testing.T, c *kafkatest.Cluster, topic string, p int32, n int, prefix string) []*kgo.Record {
	t.Helper()
	var rs []*kgo.Record
	for i := range n {
		v := fmt.Appendf(nil, "%s-%d|", prefix, i)
		rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "%s-%d", prefix, i),
			Value: append(v, bytes.Repeat([]byte{byte(i)}, 1000)...), Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i))})
	}
	c.Produce(t, rs...)
	return rs
}

// A target holding aborted transactions of copies (a killed mirror's, each
// flushed before the abort and larger than a fetch, several fetches deep)
// verifies exact, in full and in sample mode: the aborted copies are not
// read as copies, so they are neither duplicates nor out of order. Read
// both at the default fetch size (where kfake itself leaves the aborted
// list out of responses that reach the request limit) and through a
// connection that strips every list.
func TestAbortedCopiesOnTarget(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 2, nil, nil)
	first := map[int32][]*kgo.Record{}
	for p := range int32(2) {
		first[p] = produceBig(t, pair.Source, "orders", p, 300, fmt.Sprintf("a%d", p))
	}
	mirrorOnce(t, pair, nil, "orders")
	for p := range int32(2) {
		later := produceBig(t, pair.Source, "orders", p, 1200, fmt.Sprintf("b%d", p))
		// Three aborted transactions of 1.2 MB each, before the copies.
		abortCopies(t, pair, "orders", fmt.Sprintf("killed-%d", p), later, 3)
	}
	mirrorOnce(t, pair, nil, "orders")
	for p := range int32(2) {
		at, _ := copies(t, pair.Target, "orders", p)
		if len(at) != 1500 || at[300] < 300+3*1200 {
			t.Fatalf("fixture orders/%d: %d copies, copy of 300 at %d: want it after the aborted ones", p, len(at), at[300])
		}
	}

	omit := kafkatest.NewFaultDialer()
	omit.OmitAbortedTransactions()
	readers := []struct {
		name   string
		target []kgo.Opt
	}{
		{"kfake", nil},
		{"no-aborted-list", []kgo.Opt{kgo.Dialer(omit.DialContext)}},
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			target := func(o *runConfig) { o.target = rd.target }
			rep := run(t, pair, target)
			for p := range int32(2) {
				pr := partition(t, rep, "orders", p)
				want := verify.Counts{SourceRecords: 1500, Copies: 1500, Matched: 1500}
				if pr.Status != verify.StatusOK || pr.Counts != want || len(pr.Problems) != 0 || pr.Digest == nil || !pr.Digest.Match {
					t.Errorf("orders/%d: status %s, counts %+v, problems %+v, digest %+v; want ok, %+v",
						p, pr.Status, pr.Counts, problems(t, pr), pr.Digest, want)
				}
			}
			if !rep.OK || rep.Totals.Problems != 0 {
				t.Errorf("report: ok %v, totals %+v", rep.OK, rep.Totals)
			}

			srep := run(t, pair, func(o *runConfig) { target(o); o.Sample = 40 })
			for p := range int32(2) {
				pr := partition(t, srep, "orders", p)
				want := verify.Counts{SourceRecords: 1500, Copies: 1500, Matched: 40, Sampled: 40}
				if pr.Status != verify.StatusOK || pr.Counts != want || len(pr.Problems) != 0 {
					t.Errorf("sample orders/%d: status %s, counts %+v, problems %+v; want ok, %+v",
						p, pr.Status, pr.Counts, problems(t, pr), want)
				}
			}
			if !srep.OK {
				t.Errorf("sample report: totals %+v", srep.Totals)
			}
		})
	}
	if omit.AbortedListsStripped() == 0 {
		t.Error("no aborted list was stripped: the broker condition was not simulated")
	}
}

// produceTxns writes to topic/p on c, with one transactional producer,
// txns transactions of per records of about 1 KiB (each flushed to the log
// before it ends), aborting every third; it returns the keys committed.
func produceTxns(t *testing.T, c *kafkatest.Cluster, topic string, p int32, txns, per int) []string {
	t.Helper()
	cl := c.Client(t, kgo.TransactionalID(fmt.Sprintf("app-%s-%d", topic, p)), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var keys []string
	for i := range txns {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		commit := i%3 != 1
		for j := range per {
			k := fmt.Sprintf("t%d-%d-%d", p, i, j)
			cl.Produce(t.Context(), &kgo.Record{Topic: topic, Partition: p, Key: []byte(k), Value: append([]byte(k), bytes.Repeat([]byte{byte(j)}, 1000)...)}, nil)
			if commit {
				keys = append(keys, k)
			}
		}
		if err := cl.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(t.Context(), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// A source written by a transactional producer, with flushed aborted
// transactions several fetches deep: verify reads only the committed
// source records (aborted ones are not gaps), in full mode and in a
// sample that covers every offset, through kfake and through a source
// connection that strips every aborted list.
func TestAbortedSourceTransactions(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "payments", 2, nil, nil)
	committed := map[int32]int64{}
	for p := range int32(2) {
		committed[p] = int64(len(produceTxns(t, pair.Source, "payments", p, 6, 400)))
	}
	mirrorOnce(t, pair, nil, "payments")
	if n := len(pair.Target.ConsumeAll(t, "payments")); int64(n) != committed[0]+committed[1] {
		t.Fatalf("fixture: the mirror copied %d records, want the %d committed", n, committed[0]+committed[1])
	}
	omit := kafkatest.NewFaultDialer()
	omit.OmitAbortedTransactions()
	readers := []struct {
		name   string
		source []kgo.Opt
	}{
		{"kfake", nil},
		{"no-aborted-list", []kgo.Opt{kgo.Dialer(omit.DialContext)}},
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			source := func(o *runConfig) { o.source = rd.source }
			for _, n := range []int{0, 1 << 20} {
				rep := run(t, pair, func(o *runConfig) { source(o); o.Sample = n })
				for p := range int32(2) {
					pr := partition(t, rep, "payments", p)
					c := committed[p]
					want := verify.Counts{SourceRecords: c, Copies: c, Matched: c}
					if n > 0 {
						want.Sampled = c
					}
					if pr.Status != verify.StatusOK || pr.Counts != want || len(pr.Problems) != 0 {
						t.Errorf("sample %d, payments/%d: status %s, counts %+v, problems %+v; want ok, %+v",
							n, p, pr.Status, pr.Counts, problems(t, pr), want)
					}
				}
				if !rep.OK {
					t.Errorf("sample %d: totals %+v", n, rep.Totals)
				}
			}
		})
	}
	if omit.AbortedListsStripped() == 0 {
		t.Error("no aborted list was stripped: the broker condition was not simulated")
	}
}
