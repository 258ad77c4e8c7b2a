package workload_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

func newSpec(t *testing.T, records, size, partitions int) *workload.Spec {
	t.Helper()
	s, err := workload.NewSpec(records, size, partitions, 7)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// kcat pipes records as "key\tvalue\n": neither may contain a tab or a
// newline, and keys have a fixed width.
func TestRecordsSurviveAKcatLineFormat(t *testing.T) {
	s := newSpec(t, 5000, 300, 7)
	for i := range s.Records {
		k, v := s.Key(i), s.Value(i)
		if len(k) != workload.KeyLen || len(v) != s.Size {
			t.Fatalf("record %d: key %q (%d bytes), value of %d bytes", i, k, len(k), len(v))
		}
		if bytes.ContainsAny(k, "\t\n") || bytes.ContainsAny(v, "\t\n") {
			t.Fatalf("record %d contains a tab or newline", i)
		}
	}
	if got := string(s.Key(42)); got != "k0000000042" {
		t.Fatalf("Key(42) = %q", got)
	}
	if got, want := s.Bytes(), int64(5000*(workload.KeyLen+300)); got != want {
		t.Fatalf("Bytes() = %d, want %d", got, want)
	}
}

func TestSpecIsDeterministic(t *testing.T) {
	a, b := newSpec(t, 100, 64, 3), newSpec(t, 100, 64, 3)
	for i := range 100 {
		if !bytes.Equal(a.Value(i), b.Value(i)) {
			t.Fatalf("record %d differs between two specs with the same seed", i)
		}
	}
	c, err := workload.NewSpec(100, 64, 3, 8)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Value(0), c.Value(0)) {
		t.Fatal("another seed gives the same value")
	}
}

func TestCompareFindsMissingAndReorderedRecords(t *testing.T) {
	s := newSpec(t, 10, 16, 2)
	want := s.Expected()
	if d := workload.Compare(want, s.Expected()); d != "" {
		t.Fatalf("equal sums differ: %s", d)
	}
	// Partition 0 holds records 0, 2, 4, 6, 8.
	missing := make([]workload.Sum, 2)
	reordered := make([]workload.Sum, 2)
	for _, i := range []int{0, 2, 4, 6} {
		missing[0].Add(s.Key(i), s.Value(i))
	}
	for _, i := range []int{2, 0, 4, 6, 8} {
		reordered[0].Add(s.Key(i), s.Value(i))
	}
	missing[1], reordered[1] = want[1], want[1]
	if d := workload.Compare(want, missing); !strings.Contains(d, "9 records in total, want 10; partition 0 has 4, want 5") {
		t.Fatalf("missing record: %q", d)
	}
	if d := workload.Compare(want, reordered); !strings.Contains(d, "different content or order") {
		t.Fatalf("reordered records: %q", d)
	}
	if d := workload.CompareCounts(want, reordered); d != "" {
		t.Fatalf("counts of reordered records differ: %q", d)
	}
}

// Produce then Consume must give exactly the expected sums: what the
// benchmark's checks rely on.
func TestProduceConsumeRoundTrip(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := newSpec(t, 3000, 200, 5)
	if err := workload.CreateTopic(ctx, c.ListenAddrs(), "t", s.Partitions); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(workload.ProducerOpts(c.ListenAddrs())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := workload.Produce(ctx, cl, "t", s); err != nil {
		t.Fatal(err)
	}
	got, err := workload.Consume(ctx, c.ListenAddrs(), "t", true)
	if err != nil {
		t.Fatal(err)
	}
	if d := workload.Compare(s.Expected(), got); d != "" {
		t.Fatal(d)
	}
	counts, err := workload.Consume(ctx, c.ListenAddrs(), "t", false)
	if err != nil {
		t.Fatal(err)
	}
	if d := workload.CompareCounts(s.Expected(), counts); d != "" {
		t.Fatal(d)
	}
	if err := workload.DeleteTopics(ctx, c.ListenAddrs(), "t"); err != nil {
		t.Fatal(err)
	}
}

// A transactional copy ends with a commit marker, which takes an offset
// but is no record: Consume must stop there, and skip aborted records.
func TestConsumeStopsAfterTransactionMarkers(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := newSpec(t, 40, 10, 2)
	if err := workload.CreateTopic(ctx, c.ListenAddrs(), "t", s.Partitions); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(workload.ProducerOpts(c.ListenAddrs()), kgo.TransactionalID("x"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	txn := func(commit bool, from, to int) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: s.Partition(i), Key: s.Key(i), Value: s.Value(i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	txn(true, 0, 20)
	txn(false, 20, 30) // aborted: not part of the copy
	txn(true, 30, 40)
	got, err := workload.Consume(ctx, c.ListenAddrs(), "t", true)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]workload.Sum, 2)
	for i := range 40 {
		if i < 20 || i >= 30 {
			want[s.Partition(i)].Add(s.Key(i), s.Value(i))
		}
	}
	if d := workload.Compare(want, got); d != "" {
		t.Fatal(d)
	}
}
