package groups_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// Translate and Search agree, and are exact, for every offset of a plain
// source mirrored in three runs, with records written natively on the
// target before, between and after the runs (single records and stretches
// longer than one fetch) and an aborted native transaction.
func TestTranslatePlainWithNativeWrites(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 2, nil)
	native := func(n int, what string) {
		t.Helper()
		for p := range int32(2) {
			produceN(t, pair.Target, "orders", p, n, 1, what) // one batch per record
		}
	}
	native(3, "native-before")
	produceN(t, pair.Source, "orders", 0, 40, 7, "a")
	produceN(t, pair.Source, "orders", 1, 15, 4, "a")
	mirrorOnce(t, pair, "plain", "orders")
	native(5, "native-between")
	abortedNative(t, pair.Target, "orders", 2)
	produceN(t, pair.Source, "orders", 0, 30, 5, "b")
	produceN(t, pair.Source, "orders", 1, 10, 10, "b")
	mirrorOnce(t, pair, "plain", "orders")
	native(1, "native-between-2")
	produceN(t, pair.Source, "orders", 0, 12, 12, "c")
	mirrorOnce(t, pair, "plain", "orders")
	native(4, "native-after")

	snap := loadState(t, pair, "plain")
	for p := range int32(2) {
		f := checkPartition(t, pair, snap, "orders", p, nil)
		t.Logf("partition %d: at most %d fetches per search", p, f)
	}
}

// abortedNative writes n records per partition in a native transaction on
// c that aborts.
func abortedNative(t *testing.T, c *kafkatest.Cluster, topic string, n int) {
	t.Helper()
	cl := c.Client(t, kgo.TransactionalID("native-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for p := range int32(2) {
		for i := range n {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "aborted-native-%d", i)})
		}
	}
	if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(t.Context(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

// A compacted source: offsets removed by compaction translate to the copy
// of the next survivor, those before the first survivor too if the mirror
// began at or before them (NextCopied, nothing skipped), else Expired.
func TestTranslateCompacted(t *testing.T) {
	pair := newPair(t)
	src := pair.Source.RequireKfake(t)
	createTopic(t, pair, "orders", 1, map[string]string{"cleanup.policy": "compact"})
	for round := range 25 {
		var rs []*kgo.Record
		for j := range 4 {
			i := round*4 + j
			r := &kgo.Record{Topic: "orders", Key: fmt.Appendf(nil, "hot-%d", i%3), Value: fmt.Appendf(nil, "update %d", i)}
			if i%10 == 5 {
				r.Key = fmt.Appendf(nil, "unique-%d", i)
			}
			rs = append(rs, r)
		}
		pair.Source.Produce(t, rs...)
	}
	src.Compact()
	survivors := pair.Source.ConsumeAll(t, "orders")
	if n := len(survivors); n >= 60 || survivors[0].Offset == 0 {
		t.Fatalf("compaction left %d records, the first at %d: the fixture should leave gaps, including at the start", n, survivors[0].Offset)
	}
	mirrorOnce(t, pair, "compacted", "orders")
	produceN(t, pair.Target, "orders", 0, 3, 1, "native")
	snap := loadState(t, pair, "compacted")
	// The mirror began at the log start (kfake moves it up to the first
	// survivor when it compacts; Kafka keeps 0): below it Expired, from
	// it NextCopied.
	starts, err := pair.Source.Admin(t).ListStartOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := starts.Lookup("orders", 0)
	if st := snap.Checkpoints[state.TopicPartition{Topic: "orders", Partition: 0}].Start; st == nil || *st != ls.Offset {
		t.Fatalf("checkpoint start %v, want the log start %d", st, ls.Offset)
	}
	checkPartition(t, pair, snap, "orders", 0, nil)
}

// A transactional source: aborted records and markers translate to the
// next committed record; the partition ends with an abort marker, so
// offsets past the last copy up to the checkpoint are End.
func TestTranslateTransactional(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	a := pair.Source.Client(t, kgo.TransactionalID("source-app-a"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	b := pair.Source.Client(t, kgo.TransactionalID("source-app-b"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	seq := 0
	write := func(cl *kgo.Client, what string) {
		t.Helper()
		var rs []*kgo.Record
		for range 3 {
			rs = append(rs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, "%s %d", what, seq)})
			seq++
		}
		if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	txn := func(cl *kgo.Client, commit bool, do func()) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		do()
		if err := cl.EndTransaction(t.Context(), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		// a commits and b aborts, interleaved.
		if err := a.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		txn(b, false, func() {
			write(a, "committed")
			write(b, "aborted")
			write(a, "committed")
		})
		if err := a.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			write(pair.Source.Client(t), "plain")
			mirrorOnce(t, pair, "txn", "orders")
			produceN(t, pair.Target, "orders", 0, 2, 1, "native")
		}
	}
	txn(a, false, func() { write(a, "aborted") })
	mirrorOnce(t, pair, "txn", "orders")
	snap := loadState(t, pair, "txn")
	if got := snap.Checkpoints[state.TopicPartition{Topic: "orders"}].Next; got <= offsetMap(t, snap, state.TopicPartition{Topic: "orders"}).SourceEnd() {
		t.Fatalf("checkpoint %d: the fixture should end with offsets past the last copy", got)
	}
	checkPartition(t, pair, snap, "orders", 0, nil)
}

// Committed offsets below the source log start, deleted before the mirror
// reached them, translate to the next copy and report the gap with the
// exact number of offsets skipped: before the first copy (the first run
// started at the log start, 25) and in an expired range after a
// checkpoint (40-70). Offsets past the checkpoint (produced but not
// mirrored yet) are NotYetMirrored, without a fetch.
func TestTranslateExpiredAndNotYetMirrored(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	produceN(t, pair.Source, "orders", 0, 40, 10, "a")
	deleteRecords(t, pair.Source, "orders", 0, 25)
	produceN(t, pair.Target, "orders", 0, 4, 1, "native") // target offsets 0-3
	mirrorOnce(t, pair, "expired", "orders")              // source 25-39 -> target 4-18, marker 19
	produceN(t, pair.Source, "orders", 0, 60, 10, "b")    // source 40-99
	firstRun := pair.Source.ConsumeAll(t, "orders")[:15]  // 25-39
	deleteRecords(t, pair.Source, "orders", 0, 70)
	mirrorOnce(t, pair, "expired", "orders")               // source 70-99 -> target 20-49 (after a marker)
	produceN(t, pair.Source, "orders", 0, 10, 10, "later") // source 100-109, not mirrored

	snap := loadState(t, pair, "expired")
	tp := state.TopicPartition{Topic: "orders"}
	if es := snap.Expired[tp]; len(es) != 1 || es[0].From != 40 || es[0].Until != 70 {
		t.Fatalf("expired ranges %+v, want one from 40 until 70", es)
	}
	part, err := groups.FromSnapshot(snap, tp)
	if err != nil {
		t.Fatal(err)
	}
	if part.Checkpoint.Next != 100 {
		t.Fatalf("checkpoint %d, want 100", part.Checkpoint.Next)
	}
	cl := pair.Target.Client(t)
	source := groups.SourcePartition{ClusterID: pair.Source.ID, Topic: "orders"}
	// The target: natives 0-3, copies of 25-39 at 4-18, a commit marker
	// (19) or more, copies of 70-99 from first70 on.
	first70 := groups.Result{}
	if r, err := groups.Translate(part, 70); err != nil || r.Kind != groups.Exact {
		t.Fatalf("Translate(70) = %+v, %v", r, err)
	} else {
		first70 = r
	}
	if first70.Offset < 20 {
		t.Fatalf("copy of 70 at %d, want after the first run's marker", first70.Offset)
	}
	for _, tc := range []struct {
		c    int64
		want groups.Result
	}{
		{0, groups.Result{Kind: groups.Expired, Offset: 4, Skipped: 25}},
		{24, groups.Result{Kind: groups.Expired, Offset: 4, Skipped: 1}},
		{25, groups.Result{Kind: groups.Exact, Offset: 4}},
		{39, groups.Result{Kind: groups.Exact, Offset: 18}},
		{40, groups.Result{Kind: groups.Expired, Offset: first70.Offset, Skipped: 30}},
		{69, groups.Result{Kind: groups.Expired, Offset: first70.Offset, Skipped: 1}},
		{99, groups.Result{Kind: groups.Exact, Offset: first70.Offset + 29}},
		{100, groups.Result{Kind: groups.End, Offset: first70.Offset + 30}},
		{101, groups.Result{Kind: groups.NotYetMirrored, Offset: -1}},
		{110, groups.Result{Kind: groups.NotYetMirrored, Offset: -1}},
	} {
		if got, err := groups.Translate(part, tc.c); err != nil || got != tc.want {
			t.Errorf("Translate(%d) = %+v, %v; want %+v", tc.c, got, err, tc.want)
		}
		got, err := groups.Search(t.Context(), cl, groups.SearchRequest{Topic: "orders", Source: source, Offset: tc.c, Checkpoint: part.Checkpoint, Expired: part.Expired})
		if tc.want.Kind == groups.NotYetMirrored && got.Fetches != 0 {
			t.Errorf("Search(%d): %d fetches, want none", tc.c, got.Fetches)
		}
		got.Fetches = 0
		if err != nil || got != tc.want {
			t.Errorf("Search(%d) = %+v, %v; want %+v", tc.c, got, err, tc.want)
		}
	}
	// Copied: 25-39 (deleted from the source by now) and 70-99.
	checkPartition(t, pair, snap, "orders", 0, append(firstRun, pair.Source.ConsumeAll(t, "orders")...))
}

// Search costs O(log n) fetches: on a 10,000-record partition of small
// batches (one batch per fetch), with source gaps and native batches
// interleaved, no search sends more than 2*ceil(log2(n))+4 fetches, and
// every answer equals Translate's from the map of the same records.
func TestSearchFetchBound(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	c.CreateTopic(t, "big", 1, noRetention)
	const srcID = "the-source"
	enc := trace.NewEncoder(srcID, "orders")
	var m offsetmap.Map
	var source int64 // next source offset
	for batch := 0; ; batch++ {
		var rs []*kgo.Record
		nativeBatch := batch%40 == 39
		for range 10 {
			r := &kgo.Record{Topic: "big", Value: []byte("v")}
			if !nativeBatch {
				r.Headers = []kgo.RecordHeader{{Key: trace.HeaderKey, Value: enc.Append(nil, 0, source, 0)}}
				source += 1 + source%3/2 // a gap after every third offset
			}
			rs = append(rs, r)
		}
		c.Produce(t, rs...)
		if !nativeBatch {
			for _, r := range rs {
				o, _, _ := trace.Find(r.Headers)
				if err := m.Add(o.Offset, r.Offset); err != nil {
					t.Fatal(err)
				}
			}
		}
		if rs[len(rs)-1].Offset >= 9999 {
			break
		}
	}
	const n = 10_000
	bound := 2*int(math.Ceil(math.Log2(n))) + 4
	cp := state.Checkpoint{Next: source + 2}
	cl := c.Client(t)
	worst := 0
	for x := int64(0); x <= cp.Next; x += 97 {
		for _, off := range []int64{x, x + 1, x + 2} {
			want, err := groups.Translate(groups.Partition{Map: &m, Checkpoint: cp}, off)
			if err != nil {
				t.Fatal(err)
			}
			got, err := groups.Search(t.Context(), cl, groups.SearchRequest{
				Topic: "big", Source: groups.SourcePartition{ClusterID: srcID, Topic: "orders"},
				Offset: off, Checkpoint: cp, FetchMaxBytes: 1,
			})
			if err != nil {
				t.Fatalf("Search(%d): %v", off, err)
			}
			worst = max(worst, got.Fetches)
			if got.Fetches > bound {
				t.Errorf("Search(%d): %d fetches, bound %d", off, got.Fetches, bound)
			}
			got.Fetches = 0
			if got != want {
				t.Errorf("Search(%d) = %+v, Translate = %+v", off, got, want)
			}
		}
	}
	t.Logf("at most %d fetches per search (bound %d) over %d offsets", worst, bound, n)
}
