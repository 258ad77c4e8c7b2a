package gateway

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// FuzzDecodeBatches: whatever a client sends as a partition's records,
// decoding never panics, and a batch that decodes has records that parse
// or an error that says why.
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
		for i := range batches {
			rs, err := records(&batches[i], "t", 0)
			if err == nil && int32(len(rs)) != batches[i].NumRecords {
				t.Fatalf("%d records from a batch of %d", len(rs), batches[i].NumRecords)
			}
		}
	})
}
