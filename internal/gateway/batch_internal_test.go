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
	if b := bs[0]; b.producerID != 9 || b.epoch != 1 || b.firstSeq != 4 || b.numRecords != 3 || len(b.raw) != len(raw)-len(bs[1].raw) {
		t.Fatalf("batch header %+v", b)
	}
	if bs[1].numRecords != 1 || &bs[1].raw[0] != &raw[len(bs[0].raw)] {
		t.Fatalf("second batch %+v does not alias the request", bs[1])
	}

	// The rewritten batch keeps its records, names the gateway's
	// producer and has a correct CRC.
	rewriteProducer(bs[0].raw, 77, 3, 1000)
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(bs[0].raw); err != nil {
		t.Fatal(err)
	}
	if rb.ProducerID != 77 || rb.ProducerEpoch != 3 || rb.FirstSequence != 1000 || rb.NumRecords != 3 ||
		uint32(rb.CRC) != crc32.Checksum(bs[0].raw[21:], crc32c) {
		t.Fatalf("rewritten batch %+v", rb)
	}
	again, err := decodeBatches(raw)
	if err != nil || again[0].producerID != 77 || again[0].firstSeq != 1000 || string(rb.Records) != string(encodeBatch(0, ts, in)[batchHeaderBytes:]) {
		t.Fatalf("rewritten batches decode as %+v, %v", again, err)
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
	lying := encodeBatch(0, ts, in[:1])
	binary.BigEndian.PutUint32(lying[offNumRecords:], 1<<30)
	binary.BigEndian.PutUint32(lying[offCRC:], crc32.Checksum(lying[offAttributes:], crc32c))
	empty := encodeBatch(0, ts, nil)
	cases["records count"] = struct {
		raw  []byte
		want error
	}{lying, ErrCorruptBatch}
	cases["no records"] = struct {
		raw  []byte
		want error
	}{empty, ErrCorruptBatch}
	for name, c := range cases {
		if _, err := decodeBatches(c.raw); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
