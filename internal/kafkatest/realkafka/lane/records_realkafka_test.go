package lane_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// produceVariety writes records of every shape kmigrate must carry into
// topic's partitions: null, empty and binary keys and values, large values,
// headers (none, repeated keys, null values), old and new timestamps,
// batches of every compression codec, and transactions committed and
// aborted. It returns how many records a read_committed consumer sees.
func produceVariety(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := 0
	old := time.UnixMilli(1_600_000_000_000) // 2020
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
	for ci, codec := range codecs {
		cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(5*time.Millisecond))
		var recs []*kgo.Record
		for i := range 60 {
			r := &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Key: fmt.Appendf(nil, "c%d-k%d", ci, i), Value: fmt.Appendf(nil, "value %d/%d", ci, i)}
			switch i % 10 {
			case 1:
				r.Key = nil
			case 2:
				r.Key = []byte{}
			case 3:
				r.Value = nil
			case 4:
				r.Value = []byte{}
			case 5:
				r.Value = bytes.Repeat([]byte{0, 0xff, byte(i)}, 5000)
			case 6:
				r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("1")}, {Key: "h", Value: []byte("2")}, {Key: "empty", Value: []byte{}}, {Key: "null"}}
			case 7:
				r.Timestamp = old.Add(time.Duration(i) * time.Second)
			case 8:
				r.Headers = []kgo.RecordHeader{{Key: "ünïcode", Value: []byte{0xc3, 0x28}}}
			}
			recs = append(recs, r)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce with %v: %v", codec, err)
		}
		n += len(recs)
	}
	// Transactions: committed, aborted, committed, across partitions, so
	// that markers and aborted records sit between plain records.
	txn := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID(kafkatest.TopicName(t, "txn")))
	for i, commit := range []bool{true, false, true, false, true} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for j := range 15 {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(j) % partitions, Key: fmt.Appendf(nil, "t%d-%d", i, j), Value: fmt.Appendf(nil, "txn %d commit=%v", i, commit)})
		}
		if err := txn.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("transactional produce: %v", err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end transaction %d (commit %v): %v", i, commit, err)
		}
		if commit {
			n += len(recs)
		}
		// Plain records between transactions.
		c.Produce(t, &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Key: fmt.Appendf(nil, "after-t%d", i), Value: []byte("plain")})
		n++
	}
	return n
}

// sameRecords fails the test unless tgt holds exactly src's records, in
// order per partition: key, value, headers (tracing header removed) and
// timestamp, telling null from empty, each copy's tracing header naming
// its source partition and offset.
func sameRecords(t *testing.T, src, tgt []*kgo.Record) {
	t.Helper()
	if len(src) != len(tgt) {
		t.Errorf("source has %d records, target %d", len(src), len(tgt))
	}
	bad := 0
	for i := range min(len(src), len(tgt)) {
		s, g := src[i], tgt[i]
		var diffs []string
		if s.Partition != g.Partition {
			diffs = append(diffs, fmt.Sprintf("partition %d != %d", s.Partition, g.Partition))
		}
		if !sameBytes(s.Key, g.Key) {
			diffs = append(diffs, fmt.Sprintf("key %q (nil %v) != %q (nil %v)", s.Key, s.Key == nil, g.Key, g.Key == nil))
		}
		if !sameBytes(s.Value, g.Value) {
			diffs = append(diffs, fmt.Sprintf("value (%d bytes, nil %v) != (%d bytes, nil %v)", len(s.Value), s.Value == nil, len(g.Value), g.Value == nil))
		}
		if !s.Timestamp.Equal(g.Timestamp) {
			diffs = append(diffs, fmt.Sprintf("timestamp %v != %v", s.Timestamp.UnixMilli(), g.Timestamp.UnixMilli()))
		}
		sh, gh := s.Headers, trace.Strip(g.Headers)
		if len(sh) != len(gh) {
			diffs = append(diffs, fmt.Sprintf("headers %v != %v", sh, gh))
		} else {
			for j := range sh {
				if sh[j].Key != gh[j].Key || !sameBytes(sh[j].Value, gh[j].Value) {
					diffs = append(diffs, fmt.Sprintf("header %d %q=%q != %q=%q", j, sh[j].Key, sh[j].Value, gh[j].Key, gh[j].Value))
				}
			}
		}
		if o, ok, err := trace.Find(g.Headers); err != nil || !ok || o.Offset != s.Offset || o.Partition != s.Partition {
			diffs = append(diffs, fmt.Sprintf("tracing header %+v (found %v, err %v), want source %d@%d", o, ok, err, s.Partition, s.Offset))
		}
		if len(diffs) > 0 {
			bad++
			if bad <= 10 {
				t.Errorf("record %d (source %d@%d, target %d@%d): %v", i, s.Partition, s.Offset, g.Partition, g.Offset, diffs)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d records differ in all", bad)
	}
}

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// consumeSettled is c.ConsumeAll(t, topic) once no transaction is pending
// on the topic (last stable offset = high watermark on every partition).
// Kafka writes a committed transaction's markers after EndTxn has
// answered, so right after `kmigrate mirror` exits a read_committed
// reader can still see a partition's last stable offset below its copies
// (seen on 4.4: 0 of 350 records visible).
func consumeSettled(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	settle(t, c, topic)
	return c.ConsumeAll(t, topic)
}

// settle waits until no transaction is pending on topic: consumers that
// read "to the end" with read_committed stop at the last stable offset.
func settle(t *testing.T, c *kafkatest.Cluster, topic string) {
	t.Helper()
	adm := c.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		stable, err1 := adm.ListCommittedOffsets(ctx, topic)
		ends, err2 := adm.ListEndOffsets(ctx, topic)
		if err1 == nil && err2 == nil && stable.Error() == nil && ends.Error() == nil {
			settled := true
			ends.Each(func(e kadm.ListedOffset) {
				if s, ok := stable.Lookup(topic, e.Partition); !ok || s.Offset != e.Offset {
					settled = false
				}
			})
			if settled {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s keeps a pending transaction: %v", c.Config.Role, topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
