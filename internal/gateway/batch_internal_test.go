package gateway

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// encodeBatch builds an uncompressed v2 batch of recs as a client would,
// with attributes attrs and a correct CRC.
func encodeBatch(attrs int16, first time.Time, recs []*kgo.Record) []byte {
	var body []byte
	for i, r := range recs {
		var rb []byte
		rb = append(rb, 0)
		rb = kbin.AppendVarlong(rb, r.Timestamp.UnixMilli()-first.UnixMilli())
		rb = kbin.AppendVarint(rb, int32(i))
		rb = kbin.AppendVarintBytes(rb, r.Key)
		rb = kbin.AppendVarintBytes(rb, r.Value)
		rb = kbin.AppendVarint(rb, int32(len(r.Headers)))
		for _, h := range r.Headers {
			rb = kbin.AppendVarintString(rb, h.Key)
			rb = kbin.AppendVarintBytes(rb, h.Value)
		}
		body = kbin.AppendVarint(body, int32(len(rb)))
		body = append(body, rb...)
	}
	b := kmsg.RecordBatch{
		Magic: 2, Attributes: attrs, LastOffsetDelta: int32(len(recs) - 1),
		FirstTimestamp: first.UnixMilli(), MaxTimestamp: first.UnixMilli(),
		ProducerID: 9, ProducerEpoch: 1, FirstSequence: 4, NumRecords: int32(len(recs)), Records: body,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32c))
	return raw
}

func TestDecodeBatches(t *testing.T) {
	ts := time.UnixMilli(1_700_000_000_000)
	in := []*kgo.Record{
		{Key: []byte("a"), Value: []byte("1"), Timestamp: ts, Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}},
		{Value: []byte("2"), Timestamp: ts.Add(5 * time.Millisecond)},
		{Key: []byte("c"), Timestamp: ts.Add(9 * time.Millisecond)}, // tombstone
	}
	raw := append(encodeBatch(0, ts, in), encodeBatch(0, ts, in[:1])...)
	bs, err := decodeBatches(raw)
	if err != nil || len(bs) != 2 {
		t.Fatalf("decodeBatches: %d batches, %v", len(bs), err)
	}
	if bs[0].ProducerID != 9 || bs[0].ProducerEpoch != 1 || bs[0].FirstSequence != 4 || bs[0].NumRecords != 3 {
		t.Fatalf("batch header %+v", bs[0])
	}
	got, err := records(&bs[0], "t2", 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("records: %d, %v", len(got), err)
	}
	for i, g := range got {
		w := in[i]
		if g.Topic != "t2" || g.Partition != 3 || string(g.Key) != string(w.Key) || (g.Key == nil) != (w.Key == nil) ||
			string(g.Value) != string(w.Value) || (g.Value == nil) != (w.Value == nil) || !g.Timestamp.Equal(w.Timestamp) ||
			len(g.Headers) != len(w.Headers) {
			t.Errorf("record %d: %+v, want %+v", i, g, w)
		}
	}
	if h := got[0].Headers[0]; h.Key != "h" || string(h.Value) != "v" {
		t.Errorf("header %+v", h)
	}

	bad := encodeBatch(0, ts, in)
	bad[len(bad)-1] ^= 1
	cases := map[string]struct {
		raw  []byte
		want error
	}{
		"crc":           {bad, ErrCorruptBatch},
		"truncated":     {raw[:40], ErrCorruptBatch},
		"transactional": {encodeBatch(attrTransactional, ts, in), ErrTransactionalBatch},
		"control":       {encodeBatch(attrControl, ts, in), ErrTransactionalBatch},
	}
	lying := kmsg.RecordBatch{Magic: 2, NumRecords: 1 << 30, Records: []byte{0}}
	if _, err := records(&lying, "t", 0); !errors.Is(err, ErrCorruptBatch) {
		t.Errorf("a batch claiming 2^30 records in 1 byte: %v, want ErrCorruptBatch", err)
	}
	for name, c := range cases {
		if _, err := decodeBatches(c.raw); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
