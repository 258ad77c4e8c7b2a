package verify_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/trace"
	"github.com/kmigrate/kmigrate/internal/verify"
)

// A clean copy made by the real mirror passes, in full and in sample mode,
// with exact counts: native target records are counted and not compared,
// source records written after the copy are pending, a partition added
// after the copy is not mirrored yet, and both digests are equal.
func TestCleanCopyPasses(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 2, nil, nil)
	p0 := produceN(t, pair.Source, "orders", 0, 25, "a")
	// Partition 1: tombstones, null keys, and a kmigrate header from
	// another hop, which the mirror replaces and verify ignores.
	var p1 []*kgo.Record
	for i := range 20 {
		r := &kgo.Record{Topic: "orders", Partition: 1, Value: []byte{byte(i)}}
		switch i % 4 {
		case 0:
			r.Key, r.Value = []byte("k"), nil
		case 1:
			r.Headers = []kgo.RecordHeader{{Key: "kmigrate.src", Value: []byte("from elsewhere")}, {Key: "h", Value: nil}}
		}
		p1 = append(p1, r)
	}
	pair.Source.Produce(t, p1...)
	mirrorOnce(t, pair, nil, "orders")
	produceN(t, pair.Source, "orders", 0, 5, "later")
	produceN(t, pair.Target, "orders", 1, 3, "native")
	if _, err := pair.Source.Admin(t).CreatePartitions(t.Context(), 1, "orders"); err != nil {
		t.Fatal(err)
	}
	// A fresh client: the helper's metadata predates the new partition.
	fresh := pair.Source.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := fresh.ProduceSync(t.Context(), &kgo.Record{Topic: "orders", Partition: 2}, &kgo.Record{Topic: "orders", Partition: 2}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if p0[24].Offset != 24 || p1[19].Offset != 19 {
		t.Fatalf("fixture offsets: %d, %d", p0[24].Offset, p1[19].Offset)
	}

	rep := run(t, pair, nil)
	if !rep.OK || rep.Mode != verify.ModeFull || !rep.TracingHeaders || rep.Guarantee != "exactly-once" || rep.Migration != migrationName || rep.Version != 1 {
		t.Errorf("report: ok %v, mode %s, headers %v, guarantee %s, migrationName %s, version %d", rep.OK, rep.Mode, rep.TracingHeaders, rep.Guarantee, rep.Migration, rep.Version)
	}
	end0, end1 := endOffset(t, pair.Target, "orders", 0), endOffset(t, pair.Target, "orders", 1)
	want := []struct {
		p      int32
		src    verify.Range
		tgt    verify.Range
		counts verify.Counts
	}{
		{0, verify.Range{From: 0, Until: 25}, verify.Range{From: 0, Until: end0}, verify.Counts{SourceRecords: 25, Copies: 25, Matched: 25, Pending: 5}},
		{1, verify.Range{From: 0, Until: 20}, verify.Range{From: 0, Until: end1}, verify.Counts{SourceRecords: 20, Copies: 20, Matched: 20, Native: 3}},
	}
	for _, w := range want {
		pr := partition(t, rep, "orders", w.p)
		if pr.Status != verify.StatusOK || pr.Source != w.src || pr.Target != w.tgt || pr.Counts != w.counts || len(pr.Problems) != 0 || pr.TargetTopic != "orders" {
			t.Errorf("orders/%d: status %s, source %+v, target %+v, counts %+v, problems %+v; want ok, %+v, %+v, %+v",
				w.p, pr.Status, pr.Source, pr.Target, pr.Counts, pr.Problems, w.src, w.tgt, w.counts)
		}
		if d := pr.Digest; d == nil || !d.Match || !d.Comparable || len(d.Source) != 64 {
			t.Errorf("orders/%d: digest %+v", w.p, d)
		}
	}
	if pr := partition(t, rep, "orders", 0); !slices.Contains(pr.Notes, "not yet verified: 5 source offsets from 25, mirrored after the snapshot") {
		t.Errorf("orders/0 notes %q", pr.Notes)
	}
	if pr := partition(t, rep, "orders", 2); pr.Status != verify.StatusNotMirrored || pr.Counts.Pending != 2 || !pr.OK() {
		t.Errorf("orders/2 (added after the copy): %+v", pr)
	}
	if tot := rep.Totals; tot.Partitions != 3 || tot.SourceRecords != 45 || tot.Copies != 45 || tot.Matched != 45 || tot.Problems != 0 || tot.Pending != 7 || tot.Failed != 0 {
		t.Errorf("totals %+v", tot)
	}
	if d0, d1 := partition(t, rep, "orders", 0).Digest, partition(t, rep, "orders", 1).Digest; d0.Source == d1.Source {
		t.Error("two different partitions have the same digest")
	}

	srep := run(t, pair, sample(4))
	if !srep.OK || srep.Mode != verify.ModeSample || srep.Sample != 4 {
		t.Fatalf("sample: ok %v, mode %s, sample %d", srep.OK, srep.Mode, srep.Sample)
	}
	for _, p := range []int32{0, 1} {
		pr := partition(t, srep, "orders", p)
		n := int64(25 - 5*p)
		// The natives written after the copy are in the tail sample mode
		// reads.
		wantCounts := verify.Counts{SourceRecords: n, Copies: n, Matched: 4, Sampled: 4, Native: 3 * int64(p), Pending: 5 - 5*int64(p)}
		if pr.Status != verify.StatusOK || pr.Counts != wantCounts || pr.Digest != nil {
			t.Errorf("sample orders/%d: status %s, counts %+v, digest %v; want %+v", p, pr.Status, pr.Counts, pr.Digest, wantCounts)
		}
	}
}

// A record removed from the target (DeleteRecords, which removes the first
// copies) is a gap at each source offset, naming the target offset the map
// gives and the target's log start.
func TestFaultRecordRemoved(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil, nil)
	produceN(t, pair.Source, "orders", 0, 20, "a")
	mirrorOnce(t, pair, nil, "orders")
	at, _ := copies(t, pair.Target, "orders", 0)
	deleteRecords(t, pair.Target, "orders", 0, at[3])

	gaps := []verify.Problem{}
	for o := range int64(3) {
		gaps = append(gaps, verify.Problem{Kind: verify.KindGap, SourceOffset: o, TargetOffset: -1, ExpectedTargetOffset: at[o], OtherTargetOffset: -1})
	}
	for _, mode := range []struct {
		name   string
		change func(*runConfig)
		counts verify.Counts
	}{
		{"full", nil, verify.Counts{SourceRecords: 20, Copies: 17, Matched: 17, Gaps: 3}},
		// Samples at 0, 4, 9, 14, 19; the copy of 0 is one of the gaps
		// the map shows without reading.
		{"sample", sample(5), verify.Counts{SourceRecords: 20, Copies: 17, Matched: 4, Sampled: 5, Gaps: 3}},
	} {
		rep := run(t, pair, mode.change)
		pr := partition(t, rep, "orders", 0)
		if rep.OK || pr.Status != verify.StatusFailed || pr.Counts != mode.counts || !reflect.DeepEqual(problems(t, pr), gaps) {
			t.Errorf("%s: ok %v, status %s, counts %+v, problems %+v; want %+v, %+v", mode.name, rep.OK, pr.Status, pr.Counts, problems(t, pr), mode.counts, gaps)
		}
		if want := "below the target's log start " + itoa(at[3]); !strings.Contains(pr.Problems[0].Detail, want) {
			t.Errorf("%s: detail %q lacks %q", mode.name, pr.Problems[0].Detail, want)
		}
	}
}

// A copy produced twice (with its tracing header) is a duplicate at both
// target offsets, in full mode and, at the end of the partition, in
// sample mode.
func TestFaultDuplicate(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil, nil)
	produceN(t, pair.Source, "orders", 0, 20, "a")
	mirrorOnce(t, pair, nil, "orders")
	at, recs := copies(t, pair.Target, "orders", 0)
	c := recs[5]
	dup := &kgo.Record{Topic: "orders", Partition: 0, Key: c.Key, Value: c.Value, Headers: c.Headers, Timestamp: c.Timestamp}
	pair.Target.Produce(t, dup)

	want := []verify.Problem{{Kind: verify.KindDuplicate, SourceOffset: 5, TargetOffset: dup.Offset, ExpectedTargetOffset: -1, OtherTargetOffset: at[5]}}
	for _, mode := range []struct {
		name   string
		change func(*runConfig)
		counts verify.Counts
	}{
		{"full", nil, verify.Counts{SourceRecords: 20, Copies: 21, Matched: 20, Duplicates: 1}},
		{"sample", sample(3), verify.Counts{SourceRecords: 20, Copies: 21, Matched: 3, Sampled: 3, Duplicates: 1}},
	} {
		rep := run(t, pair, mode.change)
		pr := partition(t, rep, "orders", 0)
		if rep.OK || pr.Counts != mode.counts || !reflect.DeepEqual(problems(t, pr), want) {
			t.Errorf("%s: ok %v, counts %+v, problems %+v; want %+v, %+v", mode.name, rep.OK, pr.Counts, problems(t, pr), mode.counts, want)
		}
	}
	if d := partition(t, run(t, pair, nil), "orders", 0).Digest; d.Match {
		t.Errorf("digests match with a duplicate: %+v", d)
	}
}

// Copies changed or reordered on the target (written by hand as the mirror
// would, then altered) are each reported as exactly what they are.
func TestFaultChangedOrReordered(t *testing.T) {
	inOrder := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, c := range []struct {
		name   string
		order  []int
		change func(i int, r *kgo.Record)
		counts verify.Counts
		want   []verify.Problem
		sample []verify.Problem // with a sample of every offset
	}{
		{name: "clean", order: inOrder, counts: verify.Counts{SourceRecords: 10, Copies: 10, Matched: 10}},
		{
			name: "header changed", order: inOrder,
			change: func(i int, r *kgo.Record) {
				if i == 4 {
					r.Headers[0].Value = []byte("tampered")
				}
			},
			counts: verify.Counts{SourceRecords: 10, Copies: 10, Matched: 9, Mismatches: 1},
			want:   []verify.Problem{{Kind: verify.KindMismatch, SourceOffset: 4, TargetOffset: 4, ExpectedTargetOffset: -1, OtherTargetOffset: -1, Fields: []string{"headers"}}},
		},
		{
			name: "value changed", order: inOrder,
			change: func(i int, r *kgo.Record) {
				if i == 6 {
					r.Value = []byte("tampered")
				}
			},
			counts: verify.Counts{SourceRecords: 10, Copies: 10, Matched: 9, Mismatches: 1},
			want:   []verify.Problem{{Kind: verify.KindMismatch, SourceOffset: 6, TargetOffset: 6, ExpectedTargetOffset: -1, OtherTargetOffset: -1, Fields: []string{"value"}}},
		},
		{
			name: "reordered", order: []int{0, 1, 2, 3, 5, 4, 6, 7, 8, 9},
			counts: verify.Counts{SourceRecords: 10, Copies: 10, Matched: 9, OutOfOrder: 1, MapMismatches: 1},
			want: []verify.Problem{
				{Kind: verify.KindOutOfOrder, SourceOffset: 4, TargetOffset: 5, ExpectedTargetOffset: -1, OtherTargetOffset: 4},
				{Kind: verify.KindMapMismatch, SourceOffset: 5, TargetOffset: 4, ExpectedTargetOffset: 5, OtherTargetOffset: -1},
			},
			sample: []verify.Problem{
				{Kind: verify.KindMapMismatch, SourceOffset: 4, TargetOffset: 4, ExpectedTargetOffset: 4, OtherTargetOffset: -1},
				{Kind: verify.KindMapMismatch, SourceOffset: 5, TargetOffset: 5, ExpectedTargetOffset: 5, OtherTargetOffset: -1},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			pair := newPair(t)
			createTopic(t, pair, "orders", 1, nil, nil)
			src := produceN(t, pair.Source, "orders", 0, 10, "a")
			build(t, pair, "orders", src, c.order, c.change)
			rep := run(t, pair, nil)
			pr := partition(t, rep, "orders", 0)
			if c.want == nil {
				c.want = []verify.Problem{}
			}
			if rep.OK != (len(c.want) == 0) || pr.Counts != c.counts || !reflect.DeepEqual(problems(t, pr), c.want) {
				t.Errorf("ok %v, counts %+v, problems %+v; want %+v, %+v", rep.OK, pr.Counts, problems(t, pr), c.counts, c.want)
			}
			if pr.Digest.Match != (len(c.want) == 0) {
				t.Errorf("digest %+v", pr.Digest)
			}
			// A sample of every offset finds the same places.
			if c.sample == nil {
				c.sample = c.want
			}
			srep := run(t, pair, sample(10))
			if got := problems(t, partition(t, srep, "orders", 0)); srep.OK != (len(c.want) == 0) || !reflect.DeepEqual(got, c.sample) {
				t.Errorf("sample: ok %v, problems %+v; want %+v", srep.OK, got, c.sample)
			}
		})
	}
}

// A range that expired on the source before the mirror reached it is
// reported, not counted as loss; copies of offsets the source deleted
// after copying them are not compared, and the report says from where.
func TestExpiredAndDeletedOnSource(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil, nil)
	produceN(t, pair.Source, "orders", 0, 10, "a")
	mirrorOnce(t, pair, nil, "orders")
	produceN(t, pair.Source, "orders", 0, 10, "b") // offsets 10-19
	deleteRecords(t, pair.Source, "orders", 0, 15)
	mirrorOnce(t, pair, nil, "orders")

	rep := run(t, pair, nil)
	pr := partition(t, rep, "orders", 0)
	wantCounts := verify.Counts{SourceRecords: 5, Copies: 5, Matched: 5, SourceDeleted: 10}
	if !rep.OK || pr.Status != verify.StatusOK || pr.Counts != wantCounts || pr.Source != (verify.Range{From: 15, Until: 20}) {
		t.Errorf("ok %v, status %s, counts %+v, source %+v; want ok, %+v, [15, 20)", rep.OK, pr.Status, pr.Counts, pr.Source, wantCounts)
	}
	if len(pr.Expired) != 1 || pr.Expired[0].From != 10 || pr.Expired[0].Until != 15 || pr.Expired[0].Count != 5 || pr.Expired[0].Reason == "" {
		t.Errorf("expired %+v, want [10, 15)", pr.Expired)
	}
	if !slices.Contains(pr.Notes, "the source no longer holds offsets below 15 (deleted after they were copied): their copies are not compared") {
		t.Errorf("notes %q", pr.Notes)
	}
}

// Without tracing headers the offset map says which target records are
// copies: native records between copies are counted, and a removed copy
// is still a gap.
func TestTracingHeadersOff(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil, nil)
	off := func(m *config.Mirror) { m.TracingHeaders = false }
	produceN(t, pair.Source, "orders", 0, 10, "a")
	mirrorOnce(t, pair, off, "orders")
	produceN(t, pair.Target, "orders", 0, 2, "native")
	produceN(t, pair.Source, "orders", 0, 5, "b")
	mirrorOnce(t, pair, off, "orders")

	// The copies, by value: copies of a-i are source offsets i, of b-i
	// source offsets 10+i.
	at := map[int64]int64{}
	for _, r := range pair.Target.ConsumeAll(t, "orders") {
		if _, ok, _ := trace.Find(r.Headers); ok {
			t.Fatalf("target offset %d has a tracing header", r.Offset)
		}
		var o int64
		switch v := string(r.Value); {
		case strings.HasPrefix(v, "a-"):
			o = int64(atoi(t, v[2:]))
		case strings.HasPrefix(v, "b-"):
			o = 10 + int64(atoi(t, v[2:]))
		default:
			continue
		}
		at[o] = r.Offset
	}
	rep := run(t, pair, nil)
	pr := partition(t, rep, "orders", 0)
	if want := (verify.Counts{SourceRecords: 15, Copies: 15, Matched: 15, Native: 2}); !rep.OK || rep.TracingHeaders || pr.Counts != want {
		t.Errorf("clean: ok %v, headers %v, counts %+v; want %+v", rep.OK, rep.TracingHeaders, pr.Counts, want)
	}

	deleteRecords(t, pair.Target, "orders", 0, at[1])
	rep = run(t, pair, nil)
	pr = partition(t, rep, "orders", 0)
	want := []verify.Problem{{Kind: verify.KindGap, SourceOffset: 0, TargetOffset: -1, ExpectedTargetOffset: at[0], OtherTargetOffset: -1}}
	if rep.OK || pr.Counts != (verify.Counts{SourceRecords: 15, Copies: 14, Matched: 14, Native: 2, Gaps: 1}) || !reflect.DeepEqual(problems(t, pr), want) {
		t.Errorf("removed: ok %v, counts %+v, problems %+v; want %+v", rep.OK, pr.Counts, problems(t, pr), want)
	}
}
