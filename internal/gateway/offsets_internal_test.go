package gateway

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestShiftFetched: every batch's base offset, the watermarks and the
// aborted transactions move by the shift; a partial batch at the end is
// shifted too; the CRC-covered bytes are untouched.
func TestShiftFetched(t *testing.T) {
	ts := time.UnixMilli(1_700_000_000_000)
	b1 := encodeBatch(0, ts, []*kgo.Record{{Value: []byte("a"), Timestamp: ts}})
	b2 := encodeBatch(0, ts, []*kgo.Record{{Value: []byte("b"), Timestamp: ts}})
	binary.BigEndian.PutUint64(b1, 40)
	binary.BigEndian.PutUint64(b2, 41)
	raw := append(append(append([]byte{}, b1...), b2...), b1[:20]...) // a partial third batch
	p := kmsg.FetchResponseTopicPartition{
		HighWatermark: 42, LastStableOffset: 42, LogStartOffset: 0, RecordBatches: raw,
		AbortedTransactions: []kmsg.FetchResponseTopicPartitionAbortedTransaction{{FirstOffset: 41}},
	}
	shiftFetched(&p, 30)
	firsts := []int64{
		int64(binary.BigEndian.Uint64(raw)),
		int64(binary.BigEndian.Uint64(raw[len(b1):])),
		int64(binary.BigEndian.Uint64(raw[len(b1)+len(b2):])),
	}
	if firsts[0] != 10 || firsts[1] != 11 || firsts[2] != 10 || p.HighWatermark != 12 || p.LastStableOffset != 12 ||
		p.LogStartOffset != -1 || p.AbortedTransactions[0].FirstOffset != 11 {
		t.Fatalf("base offsets %v, partition %+v", firsts, p)
	}
	if _, err := decodeBatches(raw[:len(b1)+len(b2)]); err != nil {
		t.Fatalf("shifted batches no longer decode: %v", err)
	}
	b := Base{SourceEnds: map[int32]int64{0: 100}, TargetStarts: map[int32]int64{0: 130, 1: 5}}
	if end, shift := b.split(0); end != 100 || shift != 30 {
		t.Errorf("split(0) = %d, %d; want 100, 30", end, shift)
	}
	if end, shift := b.split(1); end != 0 || shift != 5 {
		t.Errorf("split(1) (a partition added on the target) = %d, %d; want 0, 5", end, shift)
	}
}
