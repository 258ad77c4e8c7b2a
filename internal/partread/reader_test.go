package partread_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/partread"
)

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fixture writes to t/0, with two transactional producers A and B and a
// plain one, a log where transactions span many small fetches:
//
//	plain p-0..p-9
//	A txn 0 (200 records of 200 bytes, flushed) ... aborted
//	A txn 1 ... committed, B's transaction open around it: B writes b-0..b-49
//	  before A's txn 1 and b-50..b-99 after it, then aborts
//	A txn 2 aborted, A txn 3 committed
//	plain p-10..p-19
//
// and returns the values a read_committed reader must see, in order.
func fixture(t *testing.T, c *kafkatest.Cluster) []string {
	t.Helper()
	c.CreateTopic(t, "t", 1, nil)
	a := c.Client(t, kgo.TransactionalID("partread-a"), kgo.DefaultProduceTopic("t"))
	b := c.Client(t, kgo.TransactionalID("partread-b"), kgo.DefaultProduceTopic("t"))
	plain := c.Client(t, kgo.DefaultProduceTopic("t"))
	pad := bytes.Repeat([]byte("x"), 200)
	var want []string
	write := func(cl *kgo.Client, prefix string, from, n int, keep bool) {
		t.Helper()
		for i := from; i < from+n; i++ {
			v := fmt.Sprintf("%s-%d", prefix, i)
			cl.Produce(ctx(t), &kgo.Record{Key: []byte(v), Value: append([]byte(v+"|"), pad...)}, nil)
			if keep {
				want = append(want, v)
			}
		}
		if err := cl.Flush(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	begin := func(cl *kgo.Client) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
	}
	end := func(cl *kgo.Client, commit bool) {
		t.Helper()
		if err := cl.EndTransaction(ctx(t), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	write(plain, "p", 0, 10, true)
	begin(a)
	write(a, "a0", 0, 200, false)
	end(a, false)
	begin(b)
	write(b, "b", 0, 50, false)
	begin(a)
	write(a, "a1", 0, 200, true)
	end(a, true)
	write(b, "b", 50, 50, false)
	end(b, false)
	begin(a)
	write(a, "a2", 0, 200, false)
	end(a, false)
	begin(a)
	write(a, "a3", 0, 200, true)
	end(a, true)
	write(plain, "p", 10, 10, true)
	return want
}

func value(r *kgo.Record) string { return string(r.Key) }

// readAll reads t/0 from offset 0 to the end with r, fetch after fetch.
func readAll(t *testing.T, r *partread.Reader) []string {
	t.Helper()
	var got []string
	for o, fetches := int64(0), 0; ; fetches++ {
		if fetches > 10000 {
			t.Fatal("no end")
		}
		fp, next, err := r.Fetch(ctx(t), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range fp.Records {
			if rec.Offset < o || rec.Offset >= next {
				t.Fatalf("record at %d outside [%d, %d)", rec.Offset, o, next)
			}
			got = append(got, value(rec))
		}
		if next <= o {
			return got
		}
		o = next
	}
}

// A broker that never sends the aborted-transactions list: the reader
// delivers exactly the committed records, in order, at every fetch size,
// and the same as through a connection that keeps the list.
func TestReadCommittedWithoutAbortedList(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	want := fixture(t, c)
	if len(want) != 420 {
		t.Fatalf("fixture: %d committed records", len(want))
	}
	for _, omit := range []bool{true, false} {
		for _, size := range []int32{1, 4 << 10, 64 << 10, 1 << 20} {
			t.Run(fmt.Sprintf("omit=%v/size=%d", omit, size), func(t *testing.T) {
				fd := kafkatest.NewFaultDialer()
				if omit {
					fd.OmitAbortedTransactions()
				}
				cl := c.Client(t, kgo.Dialer(fd.DialContext))
				var counts partread.Counters
				r := partread.New(cl, partread.NewLeaders(cl, "test"), "t", 0, size)
				r.Counters = &counts
				got := readAll(t, r)
				if !slices.Equal(got, want) {
					t.Fatalf("read %d records, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
				}
				if n := counts.Records.Load(); n != int64(len(want)) {
					t.Errorf("counted %d records, want %d", n, len(want))
				}
				if omit && fd.AbortedListsStripped() == 0 {
					t.Error("no aborted list was stripped: the broker condition was not simulated")
				}
				if !omit && fd.AbortedListsStripped() != 0 {
					t.Error("lists stripped through a plain dialer")
				}
			})
		}
	}
}

// Fetches that start anywhere, as a binary search's probes do: at every
// offset the first record delivered is the first committed record at or
// after it.
func TestFetchAtEveryOffset(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	fixture(t, c)
	// The committed records and their offsets, read with a plain
	// read_committed consumer through the list.
	var offsets []int64
	var values []string
	for _, r := range c.ConsumeAll(t, "t") {
		offsets, values = append(offsets, r.Offset), append(values, value(r))
	}
	fd := kafkatest.NewFaultDialer()
	fd.OmitAbortedTransactions()
	cl := c.Client(t, kgo.Dialer(fd.DialContext))
	r := partread.New(cl, partread.NewLeaders(cl, "test"), "t", 0, 4<<10)
	end := offsets[len(offsets)-1] + 1
	for o := int64(0); o < end; o += 7 {
		fp, next, err := r.Fetch(ctx(t), o)
		if err != nil {
			t.Fatal(err)
		}
		i, _ := slices.BinarySearch(offsets, o)
		// Every committed record in [o, next), none else.
		var want []string
		for j := i; j < len(offsets) && offsets[j] < next; j++ {
			want = append(want, values[j])
		}
		var got []string
		for _, rec := range fp.Records {
			got = append(got, value(rec))
		}
		if !slices.Equal(got, want) || next <= o {
			t.Fatalf("Fetch(%d): next %d, %v, want %v", o, next, got, want)
		}
	}
}

// An offset below the log start is an error wrapping OffsetOutOfRange,
// naming the cluster.
func TestFetchOutOfRange(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	c.CreateTopic(t, "t", 1, nil)
	cl := c.Client(t)
	r := partread.New(cl, partread.NewLeaders(cl, "source"), "t", 0, 1<<20)
	r.Label = "source"
	_, _, err := r.Fetch(ctx(t), 5)
	if !errors.Is(err, kerr.OffsetOutOfRange) || err.Error() != "fetch source t/0 at offset 5: "+kerr.OffsetOutOfRange.Error() {
		t.Fatalf("err %v", err)
	}
}

// A transaction whose marker lies above the last stable offset (another
// producer's transaction is open before it): its records below the last
// stable offset are delivered once the read-ahead, read_uncommitted, finds
// the marker; the open transaction's records are not returned until it
// ends, then dropped when it aborts.
func TestMarkerAboveLastStableOffset(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	c.CreateTopic(t, "t", 1, nil)
	a := c.Client(t, kgo.TransactionalID("lso-a"), kgo.DefaultProduceTopic("t"))
	b := c.Client(t, kgo.TransactionalID("lso-b"), kgo.DefaultProduceTopic("t"))
	write := func(cl *kgo.Client, prefix string, from int) {
		t.Helper()
		for i := from; i < from+10; i++ {
			cl.Produce(ctx(t), &kgo.Record{Key: fmt.Appendf(nil, "%s-%d", prefix, i)}, nil)
		}
		if err := cl.Flush(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	for _, cl := range []*kgo.Client{a, b} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
	}
	// a-0..9 at offsets 0-9, b-0..9 at 10-19 (open: the last stable
	// offset is 10), a-10..19 at 20-29, A's commit marker at 30.
	write(a, "a", 0)
	write(b, "b", 0)
	write(a, "a", 10)
	if err := a.EndTransaction(ctx(t), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	fd := kafkatest.NewFaultDialer()
	fd.OmitAbortedTransactions()
	cl := c.Client(t, kgo.Dialer(fd.DialContext))
	r := partread.New(cl, partread.NewLeaders(cl, "test"), "t", 0, 1<<20)
	read := func(o int64) ([]string, int64) {
		t.Helper()
		fp, next, err := r.Fetch(ctx(t), o)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rec := range fp.Records {
			got = append(got, value(rec))
		}
		return got, next
	}
	if got, next := read(0); !slices.Equal(got, []string{"a-0", "a-1", "a-2", "a-3", "a-4", "a-5", "a-6", "a-7", "a-8", "a-9"}) || next != 10 {
		t.Fatalf("below the last stable offset: %v, next %d", got, next)
	}
	if got, next := read(10); len(got) != 0 || next != 10 {
		t.Fatalf("at the last stable offset: %v, next %d", got, next)
	}
	// B's abort marker at 31.
	if err := b.EndTransaction(ctx(t), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	if got, next := read(10); !slices.Equal(got, []string{"a-10", "a-11", "a-12", "a-13", "a-14", "a-15", "a-16", "a-17", "a-18", "a-19"}) || next != 32 {
		t.Fatalf("after the abort: %v, next %d", got, next)
	}
}

// A transaction far larger than a fetch is read ahead once: the later
// fetches inside it use the outcome learned.
func TestReadAheadOnce(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	c.CreateTopic(t, "t", 1, nil)
	// Batches of 16 KiB, so that a fetch of 64 KiB ends inside the
	// transaction.
	cl := c.Client(t, kgo.TransactionalID("big"), kgo.DefaultProduceTopic("t"), kgo.ProducerBatchMaxBytes(16<<10))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var want []string
	rng := rand.New(rand.NewPCG(1, 2)) // incompressible values
	for i := range 2000 {
		k := fmt.Sprintf("r-%d", i)
		v := make([]byte, 1000)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		cl.Produce(ctx(t), &kgo.Record{Key: []byte(k), Value: v}, nil)
		want = append(want, k)
	}
	if err := cl.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx(t), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	fd := kafkatest.NewFaultDialer()
	fd.OmitAbortedTransactions()
	rc := c.Client(t, kgo.Dialer(fd.DialContext))
	var counts partread.Counters
	r := partread.New(rc, partread.NewLeaders(rc, "test"), "t", 0, 64<<10)
	r.Counters = &counts
	var got []string
	calls := int64(0)
	for o := int64(0); ; calls++ {
		fp, next, err := r.Fetch(ctx(t), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range fp.Records {
			got = append(got, value(rec))
		}
		if next <= o {
			break
		}
		o = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("read %d records, want the %d committed", len(got), len(want))
	}
	// 2 MB from 64 KiB: read-ahead fetches of 64 KiB, 128 KiB, ...,
	// 2 MiB at most, once.
	if extra := counts.Fetches.Load() - calls - 1; extra < 1 || extra > 6 {
		t.Errorf("%d fetches for %d reads: %d read ahead, want 1 to 6 (once)", counts.Fetches.Load(), calls+1, extra)
	}
}
