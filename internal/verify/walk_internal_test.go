package verify

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// The walk's decisions on hand-made partitions, without Kafka: every kind
// of problem and explained difference, with the exact offsets reported.

const (
	srcID = "source-cluster"
	tgtID = "target-cluster"
)

var walkTP = state.TopicPartition{Topic: "orders", Partition: 0}

// sliceFeed is a feed over records.
type sliceFeed struct {
	recs    []*kgo.Record
	deleted []Range
}

func (f *sliceFeed) next() (*kgo.Record, error) {
	if len(f.recs) == 0 {
		return nil, nil
	}
	r := f.recs[0]
	f.recs = f.recs[1:]
	return r, nil
}

func (f *sliceFeed) deletedAt(o int64) bool {
	for _, d := range f.deleted {
		if o >= d.From && o < d.Until {
			return true
		}
	}
	return false
}

// src returns source records at the given offsets: key k<o mod keys>,
// value v<o>, one header, timestamp 1000+o.
func src(keys int64, offsets ...int64) []*kgo.Record {
	var out []*kgo.Record
	for _, o := range offsets {
		out = append(out, &kgo.Record{
			Offset: o, Key: fmt.Appendf(nil, "k%d", o%keys), Value: fmt.Appendf(nil, "v%d", o),
			Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte("x")}},
			Timestamp: time.UnixMilli(1000 + o),
		})
	}
	return out
}

func span(from, until int64) []int64 {
	var out []int64
	for o := from; o < until; o++ {
		out = append(out, o)
	}
	return out
}

var enc = trace.NewEncoder(srcID, walkTP.Topic)

// copyAt returns the copy of r at target offset t, with its tracing header.
func copyAt(r *kgo.Record, t int64) *kgo.Record {
	c := *r
	c.Offset = t
	c.Headers = append(append([]kgo.RecordHeader(nil), r.Headers...),
		kgo.RecordHeader{Key: trace.HeaderKey, Value: enc.Append(nil, walkTP.Partition, r.Offset, r.Timestamp.UnixMilli())})
	return &c
}

func native(t int64, key string) *kgo.Record {
	return &kgo.Record{Offset: t, Key: []byte(key), Value: []byte("native"), Timestamp: time.UnixMilli(5)}
}

// inOrder copies every record of rs to target offsets from t, one each,
// and returns the copies and the offset map the mirror would have written.
func inOrder(rs []*kgo.Record, t int64) ([]*kgo.Record, *offsetmap.Map) {
	m := new(offsetmap.Map)
	var out []*kgo.Record
	for _, r := range rs {
		out = append(out, copyAt(r, t))
		if err := m.Add(r.Offset, t); err != nil {
			panic(err)
		}
		t++
	}
	return out, m
}

type walkCase struct {
	headers          bool
	srcRange         Range
	srcStart         int64
	tgtRange         Range
	targetNext       int64
	srcCompacted     bool
	tgtCompacted     bool
	maxPending       int
	source, target   []*kgo.Record
	deletedOnSource  []Range
	m                *offsetmap.Map
	tail             []*kgo.Record
	wantCounts       Counts
	wantProblems     []Problem
	wantStatus       string
	wantDigestsMatch bool
	// digestOf are the records each digest must be of, in order; nil:
	// every source record, and every target record that is a copy of a
	// source offset in the range.
	srcDigestOf, tgtDigestOf []*kgo.Record
}

// digestOf digests records independently of the walk.
func digestOf(rs []*kgo.Record) string {
	d := newDigester()
	for _, r := range rs {
		d.add(r)
	}
	return d.sum()
}

func (c walkCase) run(t *testing.T) *PartitionReport {
	t.Helper()
	maxPending := c.maxPending
	if maxPending == 0 {
		maxPending = 1000
	}
	p := &partition{
		tp: walkTP, target: "orders", sourceID: srcID, targetID: tgtID, headers: c.headers, m: c.m,
		src: c.srcRange, sourceStart: c.srcStart, tgt: c.tgtRange, targetNext: c.targetNext,
		sourceCompacted: c.srcCompacted, targetCompacted: c.tgtCompacted, maxListed: 100, maxPending: maxPending,
	}
	res := &PartitionReport{Problems: []Problem{}}
	w := newWalker(p, res, &sliceFeed{recs: c.source, deleted: c.deletedOnSource})
	var tail func() feed
	if c.tail != nil {
		tail = func() feed { return &sliceFeed{recs: c.tail} }
	}
	if err := w.run(&sliceFeed{recs: c.target}, tail); err != nil {
		t.Fatal(err)
	}
	if res.Counts != c.wantCounts {
		t.Errorf("counts:\n got %+v\nwant %+v", res.Counts, c.wantCounts)
	}
	if c.wantProblems == nil {
		c.wantProblems = []Problem{}
	}
	got := res.Problems
	for i := range got {
		got[i].Detail = ""
	}
	// Sorted like finish sorts.
	rep := &Report{Partitions: []PartitionReport{{Problems: got}}}
	rep.finish()
	if !reflect.DeepEqual(rep.Partitions[0].Problems, c.wantProblems) {
		t.Errorf("problems:\n got %+v\nwant %+v", rep.Partitions[0].Problems, c.wantProblems)
	}
	if res.Status != c.wantStatus {
		t.Errorf("status %q, want %q", res.Status, c.wantStatus)
	}
	if res.Digest.Match != c.wantDigestsMatch {
		t.Errorf("digests match = %v, want %v (%+v)", res.Digest.Match, c.wantDigestsMatch, res.Digest)
	}
	if c.srcDigestOf == nil {
		c.srcDigestOf = c.source
	}
	if c.tgtDigestOf == nil {
		for _, r := range c.target {
			o, exact, _ := c.m.Reverse(r.Offset)
			if h, ok, _ := trace.Find(r.Headers); c.headers {
				o, exact = h.Offset, ok
			}
			if exact && o >= c.srcRange.From && o < c.srcRange.Until {
				c.tgtDigestOf = append(c.tgtDigestOf, r)
			}
		}
	}
	if got, want := res.Digest.Source, digestOf(c.srcDigestOf); got != want {
		t.Errorf("source digest %s, want %s", got, want)
	}
	if got, want := res.Digest.Target, digestOf(c.tgtDigestOf); got != want {
		t.Errorf("target digest %s, want %s", got, want)
	}
	return res
}

func gapAt(o, exp int64) Problem {
	return Problem{Kind: KindGap, SourceOffset: o, TargetOffset: -1, ExpectedTargetOffset: exp, OtherTargetOffset: -1}
}

func TestWalkCleanCopyWithNatives(t *testing.T) {
	source := src(3, span(0, 10)...)
	copies, m := inOrder(source, 0)
	// A commit marker leaves a gap at 10; natives at 11 and 13; a copy
	// the mirror made after the snapshot at 14 (of source offset 10).
	later := copyAt(src(3, 10)[0], 14)
	target := append(copies, native(11, "n"), native(13, "n"), later)
	walkCase{
		headers: true, srcRange: Range{0, 10}, tgtRange: Range{0, 15}, targetNext: 10, m: m,
		source: source, target: target,
		wantCounts: Counts{SourceRecords: 10, Copies: 10, Matched: 10, Native: 2, AfterSnapshot: 1},
		wantStatus: StatusOK, wantDigestsMatch: true,
	}.run(t)
}

func TestWalkGapsDuplicatesAndMismatches(t *testing.T) {
	source := src(3, span(0, 8)...)
	copies, m := inOrder(source, 100)
	// Copy of 2 removed (100+2); copy of 5 written again at the end;
	// copy of 6 with another value, copy of 7 with another header and
	// timestamp.
	target := []*kgo.Record{copies[0], copies[1], copies[3], copies[4], copies[5], copies[6], copies[7]}
	copies[6].Value = []byte("changed")
	copies[7].Headers = append([]kgo.RecordHeader{{Key: "h", Value: []byte("y")}}, copies[7].Headers[1:]...)
	copies[7].Timestamp = time.UnixMilli(1)
	dup := copyAt(source[5], 110)
	target = append(target, dup)
	walkCase{
		headers: true, srcRange: Range{0, 8}, tgtRange: Range{100, 111}, targetNext: 108, m: m,
		source: source, target: target,
		wantCounts: Counts{SourceRecords: 8, Copies: 8, Matched: 5, Gaps: 1, Duplicates: 1, Mismatches: 2},
		wantProblems: []Problem{
			gapAt(2, 102),
			{Kind: KindDuplicate, SourceOffset: 5, TargetOffset: 110, ExpectedTargetOffset: -1, OtherTargetOffset: 105},
			{Kind: KindMismatch, SourceOffset: 6, TargetOffset: 106, ExpectedTargetOffset: -1, OtherTargetOffset: -1, Fields: []string{"value"}},
			{Kind: KindMismatch, SourceOffset: 7, TargetOffset: 107, ExpectedTargetOffset: -1, OtherTargetOffset: -1, Fields: []string{"headers", "timestamp"}},
		},
		wantStatus: StatusFailed,
	}.run(t)
}

func TestWalkReordered(t *testing.T) {
	source := src(3, span(0, 6)...)
	copies, m := inOrder(source, 0)
	// The copies of 3 and 4 swapped: target 3 holds the copy of 4.
	copies[3], copies[4] = copyAt(source[4], 3), copyAt(source[3], 4)
	walkCase{
		headers: true, srcRange: Range{0, 6}, tgtRange: Range{0, 6}, targetNext: 6, m: m,
		source: source, target: copies,
		wantCounts: Counts{SourceRecords: 6, Copies: 6, Matched: 5, OutOfOrder: 1, MapMismatches: 1},
		wantProblems: []Problem{
			{Kind: KindOutOfOrder, SourceOffset: 3, TargetOffset: 4, ExpectedTargetOffset: -1, OtherTargetOffset: 3},
			{Kind: KindMapMismatch, SourceOffset: 4, TargetOffset: 3, ExpectedTargetOffset: 4, OtherTargetOffset: -1},
		},
		wantStatus: StatusFailed,
	}.run(t)
}

// A late copy that also differs is out of order and a mismatch, found
// through the fingerprint of the passed source record.
func TestWalkLateCopyDiffers(t *testing.T) {
	source := src(3, span(0, 3)...)
	late := copyAt(source[0], 2)
	late.Key = []byte("other")
	target := []*kgo.Record{copyAt(source[1], 0), copyAt(source[2], 1), late}
	m := new(offsetmap.Map)
	for o := range int64(3) {
		m.Add(o, o)
	}
	walkCase{
		headers: true, srcRange: Range{0, 3}, tgtRange: Range{0, 3}, targetNext: 3, m: m,
		source: source, target: target,
		wantCounts: Counts{SourceRecords: 3, Copies: 3, Matched: 2, OutOfOrder: 1, Mismatches: 1, MapMismatches: 2},
		wantProblems: []Problem{
			{Kind: KindOutOfOrder, SourceOffset: 0, TargetOffset: 2, ExpectedTargetOffset: -1, OtherTargetOffset: 1},
			{Kind: KindMismatch, SourceOffset: 0, TargetOffset: 2, ExpectedTargetOffset: -1, OtherTargetOffset: -1, Fields: []string{"key"}},
			{Kind: KindMapMismatch, SourceOffset: 1, TargetOffset: 0, ExpectedTargetOffset: 1, OtherTargetOffset: -1},
			{Kind: KindMapMismatch, SourceOffset: 2, TargetOffset: 1, ExpectedTargetOffset: 2, OtherTargetOffset: -1},
		},
		wantStatus: StatusFailed,
	}.run(t)
}

// Without tracing headers the offset map identifies copies: a record the
// map does not know is native, a changed copy is a mismatch.
func TestWalkByOffsetMap(t *testing.T) {
	source := src(3, span(0, 4)...)
	copies, m := inOrder(source, 0)
	var target []*kgo.Record
	for _, c := range copies {
		c.Headers = trace.Strip(c.Headers)
		target = append(target, c)
	}
	target[1].Value = nil
	target = append(target, native(4, "n"))
	walkCase{
		srcRange: Range{0, 4}, tgtRange: Range{0, 5}, targetNext: 4, m: m,
		source: source, target: target,
		wantCounts: Counts{SourceRecords: 4, Copies: 4, Matched: 3, Native: 1, Mismatches: 1},
		wantProblems: []Problem{
			{Kind: KindMismatch, SourceOffset: 1, TargetOffset: 1, ExpectedTargetOffset: -1, OtherTargetOffset: -1, Fields: []string{"value"}},
		},
		wantStatus: StatusFailed,
	}.run(t)
}

// Compaction explains differences on either side: a copy of a source
// record compacted away since; copies missing from a compacted target
// when a later record has their key (here one found only past the read
// range) or they are tombstones.
func TestWalkCompaction(t *testing.T) {
	// Source offsets 0..9, keys k0..k2 (o mod 3); the source no longer
	// holds 4 (compacted after the copy).
	all := src(3, span(0, 10)...)
	all[8].Value = nil // a tombstone for k2
	copies, m := inOrder(all, 0)
	source := slices.Concat(all[:4], all[5:])
	// On the target, compaction removed the copies of 0 (k0: 3 later),
	// 2 (k2: 5 later), 8 (a tombstone), and 9 (k0: only a native record
	// past the read range has k0 later).
	target := []*kgo.Record{copies[1], copies[3], copies[4], copies[5], copies[6], copies[7]}
	res := walkCase{
		headers: true, srcRange: Range{0, 10}, tgtRange: Range{0, 10}, targetNext: 10, m: m,
		srcCompacted: true, tgtCompacted: true,
		source: source, target: target, tail: []*kgo.Record{native(11, "x"), native(12, "k0")},
		tgtDigestOf: []*kgo.Record{copies[1], copies[3], copies[5], copies[6], copies[7]},
		wantCounts:  Counts{SourceRecords: 9, Copies: 5, Matched: 5, CompactedOnSource: 1, CompactedOnTarget: 4},
		wantStatus:  StatusOK,
	}.run(t)
	if res.Digest.Comparable {
		t.Errorf("digests comparable after compaction on the target: %+v", res.Digest)
	}
}

// Copies of offsets the source deleted after copying are not compared;
// neither are those deleted while verification read the source.
func TestWalkSourceDeleted(t *testing.T) {
	all := src(3, span(0, 10)...)
	copies, m := inOrder(all, 0)
	walkCase{
		headers: true, srcRange: Range{4, 10}, srcStart: 4, tgtRange: Range{0, 10}, targetNext: 10, m: m,
		source: slices.Concat(all[4:6], all[7:]), deletedOnSource: []Range{{6, 7}}, target: copies,
		tgtDigestOf: slices.Concat(copies[4:6], copies[7:]),
		wantCounts:  Counts{SourceRecords: 5, Copies: 5, Matched: 5, SourceDeleted: 5},
		wantStatus:  StatusOK, wantDigestsMatch: true,
	}.run(t)
}

// Records that came from the target are not expected on it; a copy of an
// offset the source never held (committed) is unexpected; pending gaps
// beyond the bound are final at once.
func TestWalkLoopedBackUnexpectedAndOverflow(t *testing.T) {
	source := src(3, 0, 1, 2, 3)
	loop := trace.NewEncoder(tgtID, "orders")
	source[1].Headers = append(source[1].Headers, kgo.RecordHeader{Key: trace.HeaderKey, Value: loop.Append(nil, 0, 7, 0)})
	ghost := copyAt(src(3, 5)[0], 3)
	m := new(offsetmap.Map)
	m.Add(0, 0)
	m.Add(2, 1)
	m.Add(3, 2)
	m.Add(5, 3)
	walkCase{
		headers: true, srcRange: Range{0, 6}, tgtRange: Range{0, 4}, targetNext: 4, m: m, maxPending: 1,
		source: append(source, src(3, 4)...), target: []*kgo.Record{copyAt(source[0], 0), ghost},
		srcDigestOf: []*kgo.Record{source[0], source[2], source[3], src(3, 4)[0]},
		wantCounts:  Counts{SourceRecords: 4, Copies: 2, Matched: 1, LoopedBack: 1, Gaps: 3, Unexpected: 1},
		wantProblems: []Problem{
			gapAt(2, 1), gapAt(3, 2),
			{Kind: KindGap, SourceOffset: 4, TargetOffset: -1, ExpectedTargetOffset: -1, OtherTargetOffset: -1},
			{Kind: KindUnexpected, SourceOffset: 5, TargetOffset: 3, ExpectedTargetOffset: -1, OtherTargetOffset: -1},
		},
		wantStatus: StatusFailed,
	}.run(t)
}

// A tracing header that does not decode, and a copy of another partition
// of the source, are unexpected (and not counted as native); a copy from
// another cluster is native.
func TestWalkForeignAndCorruptHeaders(t *testing.T) {
	source := src(3, 0, 1)
	copies, m := inOrder(source, 0)
	corrupt := native(2, "c")
	corrupt.Headers = []kgo.RecordHeader{{Key: trace.HeaderKey, Value: []byte{9, 9}}}
	otherPartition := native(3, "p")
	otherPartition.Headers = []kgo.RecordHeader{{Key: trace.HeaderKey, Value: enc.Append(nil, 7, 0, 0)}}
	otherCluster := native(4, "o")
	otherCluster.Headers = []kgo.RecordHeader{{Key: trace.HeaderKey, Value: trace.NewEncoder("elsewhere", "orders").Append(nil, 0, 0, 0)}}
	walkCase{
		headers: true, srcRange: Range{0, 2}, tgtRange: Range{0, 5}, targetNext: 2, m: m,
		source: source, target: slices.Concat(copies, []*kgo.Record{corrupt, otherPartition, otherCluster}), tgtDigestOf: copies,
		wantCounts: Counts{SourceRecords: 2, Copies: 2, Matched: 2, Native: 1, Unexpected: 2},
		wantProblems: []Problem{
			{Kind: KindUnexpected, SourceOffset: -1, TargetOffset: 2, ExpectedTargetOffset: -1, OtherTargetOffset: -1},
			{Kind: KindUnexpected, SourceOffset: 0, TargetOffset: 3, ExpectedTargetOffset: -1, OtherTargetOffset: -1},
		},
		wantStatus: StatusFailed, wantDigestsMatch: true,
	}.run(t)
}

func TestSamplePoints(t *testing.T) {
	for _, c := range []struct {
		r    Range
		n    int
		want []int64
	}{
		{Range{0, 0}, 5, nil},
		{Range{10, 13}, 5, []int64{10, 11, 12}},
		{Range{10, 20}, 1, []int64{10}},
		{Range{0, 100}, 5, []int64{0, 24, 49, 74, 99}},
		{Range{7, 1007}, 3, []int64{7, 506, 1006}},
	} {
		if got := samplePoints(c.r, c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("samplePoints(%v, %d) = %v, want %v", c.r, c.n, got, c.want)
		}
	}
}

func TestMapped(t *testing.T) {
	m := new(offsetmap.Map)
	m.AddRun(offsetmap.Run{Source: 0, Target: 10, Len: 5})  // 0-4 -> 10-14
	m.AddRun(offsetmap.Run{Source: 7, Target: 16, Len: 10}) // 7-16 -> 16-25
	records, onTarget := mapped(m, Range{2, 12}, 15)
	// Mapped in [2, 12): 2,3,4 and 7..11 = 8; their targets 12,13,14 and
	// 16..20: at or after 15, 5.
	if records != 8 || onTarget != 5 {
		t.Errorf("mapped = %d, %d; want 8, 5", records, onTarget)
	}
}
