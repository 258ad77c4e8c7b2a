package gateway

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// FuzzDecodeBatches: whatever a client sends as a partition's records,
// decoding never panics, and the batches that decode cover the input
// exactly, each with at least one record.
func FuzzDecodeBatches(f *testing.F) {
	ts := time.UnixMilli(1_700_000_000_000)
	f.Add(encodeBatch(0, ts, []*kgo.Record{{Key: []byte("k"), Value: []byte("v"), Timestamp: ts}}))
	f.Add(append(encodeBatch(0, ts, []*kgo.Record{{Value: []byte("a"), Timestamp: ts}}), encodeBatch(0, ts, nil)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		batches, err := decodeBatches(raw)
		if err != nil {
			return
		}
		n := 0
		for _, b := range batches {
			if b.numRecords <= 0 || len(b.raw) < batchHeaderBytes {
				t.Fatalf("batch %+v", b)
			}
			n += len(b.raw)
		}
		if n != len(raw) {
			t.Fatalf("batches cover %d of %d bytes", n, len(raw))
		}
	})
}
