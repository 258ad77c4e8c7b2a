package verify

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// BenchmarkWalk measures the full walk's work per record pair, without
// Kafka: identifying the copy by its tracing header, comparing it field
// by field with its source record, and both SHA-256 digests. Records are
// like the benchmark's: an 11-byte key, a 1 KiB value, no headers but the
// tracing header on the copy.
func BenchmarkWalk(b *testing.B) {
	const n = 4096
	value := make([]byte, 1024)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	enc := trace.NewEncoder(srcID, walkTP.Topic)
	source := make([]*kgo.Record, n)
	target := make([]*kgo.Record, n)
	m := new(offsetmap.Map)
	for i := range n {
		o := int64(i)
		source[i] = &kgo.Record{Offset: o, Key: []byte("k0000000000"), Value: value, Timestamp: time.UnixMilli(1_700_000_000_000 + o)}
		target[i] = &kgo.Record{Offset: o, Key: source[i].Key, Value: value, Timestamp: source[i].Timestamp,
			Headers: []kgo.RecordHeader{{Key: trace.HeaderKey, Value: enc.Append(nil, 0, o, source[i].Timestamp.UnixMilli())}}}
		m.Add(o, o)
	}
	p := &partition{tp: walkTP, sourceID: srcID, targetID: tgtID, headers: true, m: m,
		src: Range{0, n}, tgt: Range{0, n}, targetNext: n, maxListed: 100, maxPending: 1000}
	b.SetBytes(int64(2 * n * (len(value) + 11)))
	b.ReportAllocs()
	for b.Loop() {
		res := &PartitionReport{}
		w := newWalker(p, res, &sliceFeed{recs: source})
		if err := w.run(&sliceFeed{recs: target}, nil); err != nil || res.Counts.Matched != n {
			b.Fatalf("%v, %+v", err, res.Counts)
		}
	}
}
