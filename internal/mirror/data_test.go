package mirror_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// copyExactly runs a bounded exactly-once copy of topics and checks that
// each target topic equals its source record by record, holds each source
// record exactly once, and that the state (checkpoints, offset map) matches
// what was copied. It returns the number of records copied.
func copyExactly(t *testing.T, pair *kafkatest.Pair, settings config.Mirror, topics ...string) int64 {
	t.Helper()
	m := newMirror(t, pair, "variety", settings, topics...)
	if err := runErr(t, m, 60*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var total int
	for _, topic := range topics {
		want := pair.Source.ConsumeAll(t, topic)
		assertRecords(t, pair, topic, want, true)
		assertExactlyOnce(t, pair, topic, want)
		assertState(t, pair, "variety", topic, topic, true)
		total += len(want)
	}
	st := m.Stats()
	if st.Records != int64(total) || !st.Done || st.Sessions != 1 || st.Errors != 0 {
		t.Errorf("stats: records %d done %v sessions %d errors %d (%s), want %d true 1 0", st.Records, st.Done, st.Sessions, st.Errors, st.LastError, total)
	}
	return st.Records
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestDataVariety(t *testing.T) {
	base := time.UnixMilli(1_600_000_000_000)
	ts := func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }

	t.Run("null keys", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		var rs []*kgo.Record
		for i := range 300 {
			r := &kgo.Record{Topic: "orders", Partition: int32(i % 3), Value: fmt.Appendf(nil, "v%d", i), Timestamp: ts(i)}
			switch i % 5 {
			case 1:
				r.Key = []byte{} // empty, not null
			case 2:
				r.Value = []byte{}
			}
			rs = append(rs, r)
		}
		pair.Source.Produce(t, rs...)
		if n := copyExactly(t, pair, bounded(), "orders"); n != 300 {
			t.Errorf("copied %d records, want 300", n)
		}
	})

	t.Run("tombstones", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		var rs []*kgo.Record
		for i := range 300 {
			r := &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i%17), Timestamp: ts(i)}
			switch i % 3 {
			case 0:
				r.Value = nil // tombstone
			case 1:
				r.Value = []byte{} // empty, not a tombstone
			default:
				r.Value = fmt.Appendf(nil, "v%d", i)
			}
			rs = append(rs, r)
		}
		pair.Source.Produce(t, rs...)
		if n := copyExactly(t, pair, bounded(), "orders"); n != 300 {
			t.Errorf("copied %d records, want 300", n)
		}
	})

	t.Run("many headers", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		var rs []*kgo.Record
		for i := range 90 {
			r := &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i), Timestamp: ts(i)}
			for h := range 50 {
				hdr := kgo.RecordHeader{Key: fmt.Sprintf("h%d", h%20), Value: fmt.Appendf(nil, "record %d header %d", i, h)}
				switch h % 10 {
				case 3:
					hdr.Value = nil
				case 4:
					hdr.Value = []byte{}
				case 5:
					hdr.Key = "" // an empty header name is legal
				case 6:
					hdr.Key = "ünïcødé-✓"
				}
				r.Headers = append(r.Headers, hdr)
			}
			rs = append(rs, r)
		}
		pair.Source.Produce(t, rs...)
		if n := copyExactly(t, pair, bounded(), "orders"); n != 90 {
			t.Errorf("copied %d records, want 90", n)
		}
	})

	t.Run("large headers", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		rng := rand.New(rand.NewChaCha8([32]byte{1}))
		var rs []*kgo.Record
		for i := range 24 {
			r := &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i), Timestamp: ts(i)}
			for h := range 4 {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: fmt.Sprintf("big%d", h), Value: randomBytes(rng, 64<<10)})
			}
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "small", Value: []byte("x")})
			rs = append(rs, r)
		}
		pair.Source.Produce(t, rs...)
		if n := copyExactly(t, pair, bounded(), "orders"); n != 24 {
			t.Errorf("copied %d records, want 24", n)
		}
	})

	t.Run("large values", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		rng := rand.New(rand.NewChaCha8([32]byte{2}))
		var rs []*kgo.Record
		for i := range 30 {
			r := &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "small %d", i), Timestamp: ts(i)}
			if i%5 < 2 {
				r.Value = randomBytes(rng, 512<<10)
			}
			rs = append(rs, r)
		}
		pair.Source.Produce(t, rs...)
		if n := copyExactly(t, pair, bounded(), "orders"); n != 30 {
			t.Errorf("copied %d records, want 30", n)
		}
	})

	t.Run("mixed compression", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
		var producers []*kgo.Client
		for _, c := range codecs {
			producers = append(producers, pair.Source.Client(t, kgo.ProducerBatchCompression(c), kgo.RecordPartitioner(kgo.ManualPartitioner())))
		}
		i := 0
		for round := range 4 {
			for c, cl := range producers {
				var rs []*kgo.Record
				for range 30 {
					rs = append(rs, &kgo.Record{
						Topic: "orders", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i),
						Value:   bytes.Repeat(fmt.Appendf(nil, "round %d codec %d record %d; ", round, c, i), 20),
						Headers: []kgo.RecordHeader{{Key: "codec", Value: fmt.Appendf(nil, "%d", c)}}, Timestamp: ts(i),
					})
					i++
				}
				if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
					t.Fatalf("produce with codec %d: %v", c, err)
				}
			}
		}
		settings := bounded()
		settings.Compression = "zstd"
		if n := copyExactly(t, pair, settings, "orders"); n != int64(i) {
			t.Errorf("copied %d records, want %d", n, i)
		}
	})

	t.Run("tracing headers off", func(t *testing.T) {
		pair := newPair(t)
		createTopic(t, pair, "orders", 3, nil)
		other := trace.NewEncoder("a-third-cluster", "orders")
		var rs []*kgo.Record
		for i := range 90 {
			r := &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i), Timestamp: ts(i),
				Headers: []kgo.RecordHeader{{Key: "app", Value: []byte("kept")}}}
			if i%2 == 0 { // another hop's tracing header is not copied
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: trace.HeaderKey, Value: other.Append(nil, 0, int64(i), 0)})
			}
			rs = append(rs, r)
		}
		pair.Source.Produce(t, rs...)
		settings := bounded()
		settings.TracingHeaders = false
		m := newMirror(t, pair, "variety", settings, "orders")
		run(t, m)
		if n := assertMirrored(t, pair, "orders", "orders", false); n != 90 {
			t.Errorf("source has %d records, want 90", n)
		}
		if got, want := checkpoints(loadState(t, pair, "variety"), "orders"), map[int32]int64{0: 30, 1: 30, 2: 30}; !maps.Equal(got, want) {
			t.Errorf("checkpoints %v, want %v", got, want)
		}
	})

	t.Run("compacted source with gaps", func(t *testing.T) { testCompacted(t) })
	t.Run("transactional source with aborts", func(t *testing.T) { testTransactional(t) })

	for _, n := range []int32{1, 12} {
		t.Run(fmt.Sprintf("%d partitions", n), func(t *testing.T) {
			pair := newPair(t)
			createTopic(t, pair, "orders", n, nil)
			produceRange(t, pair.Source, "orders", n, 0, 600/int(n), base)
			if got := copyExactly(t, pair, bounded(), "orders"); got != 600 {
				t.Errorf("copied %d records, want 600", got)
			}
		})
	}
}

// testCompacted copies a compacted source whose offsets have gaps: only
// the surviving records are copied, each to the next target offset, and
// the offset map translates an offset that compaction removed to the copy
// of the next surviving record.
func testCompacted(t *testing.T) {
	pair := newPair(t)
	src := pair.Source.RequireKfake(t)
	createTopic(t, pair, "orders", 3, map[string]string{"cleanup.policy": "compact"})
	// 25 rounds, each one batch of 4 records per partition. Every tenth
	// record has a key of its own and survives compaction; the others
	// update three hot keys, of which only the latest survive: the
	// survivors are scattered, with gaps between them. Some unique keys
	// are deleted by a tombstone, which compaction keeps (for
	// delete.retention.ms, a day).
	// last is, per partition and key, the last offset before the last
	// batch: compaction (kfake's, like Kafka's) keeps the whole last batch
	// (the active segment) and, before it, the latest record of each key
	// as of that batch.
	last := map[int32]map[string]int64{}
	lastBatch := map[int32][]int64{}
	for round := range 25 {
		var rs []*kgo.Record
		for p := range int32(3) {
			for j := range 4 {
				i := round*4 + j
				r := &kgo.Record{Topic: "orders", Partition: p, Key: fmt.Appendf(nil, "hot-%d", i%3), Value: fmt.Appendf(nil, "p%d update %d", p, i)}
				if i%10 == 0 {
					r.Key = fmt.Appendf(nil, "unique-%d", i)
				}
				if i%20 == 0 {
					r.Value = nil
				}
				rs = append(rs, r)
			}
		}
		pair.Source.Produce(t, rs...)
		for _, r := range rs {
			if last[r.Partition] == nil {
				last[r.Partition] = map[string]int64{}
			}
			if round == 24 {
				lastBatch[r.Partition] = append(lastBatch[r.Partition], r.Offset)
			} else {
				last[r.Partition][string(r.Key)] = r.Offset
			}
		}
	}
	src.Compact()
	survivors := byPartition(pair.Source.ConsumeAll(t, "orders"))
	for p := range int32(3) {
		want := slices.Clone(lastBatch[p])
		for _, o := range last[p] {
			if !slices.Contains(want, o) {
				want = append(want, o)
			}
		}
		slices.Sort(want)
		var got []int64
		for _, r := range survivors[p] {
			got = append(got, r.Offset)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("partition %d after compaction holds offsets %v, want %v: the fixture does not compact as expected", p, got, want)
		}
	}

	if n := copyExactly(t, pair, bounded(), "orders"); n != int64(len(survivors[0])+len(survivors[1])+len(survivors[2])) {
		t.Errorf("copied %d records, want the %d survivors", n, len(survivors[0])+len(survivors[1])+len(survivors[2]))
	}
	snap := loadState(t, pair, "variety")
	targets := byPartition(pair.Target.ConsumeAll(t, "orders"))
	for p := range int32(3) {
		tp := state.TopicPartition{Topic: "orders", Partition: p}
		m := offsetMap(t, snap, tp)
		recs, copies := survivors[p], targets[p]
		// A removed offset translates to the copy of the next survivor.
		gaps := 0
		for i := 1; i < len(recs); i++ {
			for gap := recs[i-1].Offset + 1; gap < recs[i].Offset; gap++ {
				gaps++
				if to, exact, _ := m.Lookup(gap); exact || to != copies[i].Offset {
					t.Errorf("%s: removed source offset %d translates to %d (exact %v), want %d (the copy of source %d)", tp, gap, to, exact, copies[i].Offset, recs[i].Offset)
				}
			}
		}
		if gaps < 50 {
			t.Errorf("%s: only %d offsets removed by compaction between survivors; the fixture should leave more gaps", tp, gaps)
		}
		if first, _ := m.First(); first.Source != recs[0].Offset {
			t.Errorf("%s: offset map starts at source %d, want the first survivor %d", tp, first.Source, recs[0].Offset)
		}
	}
}

// testTransactional copies a source with committed and aborted
// transactions, from two producers whose transactions interleave, and
// non-transactional records between them. One topic ends with an abort
// marker, the other with a commit marker: the bounded copy must move past
// both and finish.
func testTransactional(t *testing.T) {
	pair := newPair(t)
	topics := []string{"ends-aborted", "ends-committed"}
	for _, tp := range topics {
		createTopic(t, pair, tp, 2, nil)
	}
	ctx := t.Context()
	a := pair.Source.Client(t, kgo.TransactionalID("source-app-a"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	b := pair.Source.Client(t, kgo.TransactionalID("source-app-b"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	seq := 0
	write := func(cl *kgo.Client, what string, topics ...string) {
		t.Helper()
		var rs []*kgo.Record
		for _, tp := range topics {
			for p := range int32(2) {
				for range 3 {
					rs = append(rs, &kgo.Record{Topic: tp, Partition: p, Key: fmt.Appendf(nil, "k%d", seq), Value: fmt.Appendf(nil, "%s %d", what, seq)})
					seq++
				}
			}
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", what, err)
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
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		// a and b write interleaved; one of them aborts.
		begin(a)
		begin(b)
		write(a, "committed", topics...)
		write(b, "aborted", topics...)
		write(a, "committed", topics...)
		write(b, "aborted", topics...)
		end(b, false)
		end(a, true)
		if i%2 == 0 {
			write(pair.Source.Client(t), "plain", topics...)
		}
		begin(a)
		write(a, "aborted", topics...)
		end(a, false)
	}
	begin(b)
	write(b, "committed", "ends-committed")
	end(b, true)
	begin(a)
	write(a, "aborted", "ends-aborted")
	end(a, false)

	copyExactly(t, pair, bounded(), topics...)
	for _, tp := range topics {
		for _, r := range pair.Target.ConsumeAllUncommitted(t, tp) {
			if bytes.HasPrefix(r.Value, []byte("aborted")) {
				t.Errorf("%s/%d@%d: %q was copied (even if in an aborted transaction)", tp, r.Partition, r.Offset, r.Value)
			}
		}
	}
	// The source partitions end with the markers (checked here so that the
	// test cannot silently stop covering them).
	for _, tp := range topics {
		recs := byPartition(pair.Source.ConsumeAll(t, tp))
		for p, end := range endOffsets(t, pair.Source, tp) {
			if last := recs[p][len(recs[p])-1].Offset; last >= end-1 {
				t.Errorf("%s/%d: last record at %d, end %d: want a transaction marker last", tp, p, last, end)
			}
		}
	}
}
