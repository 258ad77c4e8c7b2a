package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Sentinels for batches the gateway refuses.
var (
	ErrCorruptBatch       = errors.New("corrupt record batch")
	ErrTransactionalBatch = errors.New("transactional record batch")
)

// batch attributes (Kafka's DefaultRecordBatch).
const (
	attrCodec         = 0x07
	attrTransactional = 0x10
	attrControl       = 0x20
	batchHeaderBytes  = 61 // FirstOffset through NumRecords
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// decodeBatches splits a produce request's records into record batches,
// checking each one's CRC, magic and attributes.
func decodeBatches(raw []byte) ([]kmsg.RecordBatch, error) {
	var out []kmsg.RecordBatch
	for len(raw) > 0 {
		if len(raw) < batchHeaderBytes {
			return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptBatch, len(raw))
		}
		n := 12 + int(int32(binary.BigEndian.Uint32(raw[8:12])))
		if n < batchHeaderBytes || n > len(raw) {
			return nil, fmt.Errorf("%w: length %d of %d bytes", ErrCorruptBatch, n, len(raw))
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw[:n]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorruptBatch, err)
		}
		switch {
		case b.Magic != 2:
			return nil, fmt.Errorf("%w: magic %d (only record batches v2)", ErrCorruptBatch, b.Magic)
		case uint32(b.CRC) != crc32.Checksum(raw[21:n], crc32c):
			return nil, fmt.Errorf("%w: CRC mismatch", ErrCorruptBatch)
		case b.Attributes&(attrTransactional|attrControl) != 0:
			return nil, ErrTransactionalBatch
		}
		out = append(out, b)
		raw = raw[n:]
	}
	return out, nil
}

// decompressor decompresses batches as franz-go's consumer does.
var decompressor = kgo.DefaultDecompressor()

// records returns the records of b as franz-go records for topic and
// partition, keeping keys, values, headers and timestamps.
func records(b *kmsg.RecordBatch, topic string, partition int32) ([]*kgo.Record, error) {
	raw := b.Records
	if codec := kgo.CompressionCodecType(b.Attributes & attrCodec); codec != kgo.CodecNone {
		var err error
		if raw, err = decompressor.Decompress(raw, codec); err != nil {
			return nil, fmt.Errorf("%w: decompress: %w", ErrCorruptBatch, err)
		}
	}
	if b.NumRecords < 0 || int(b.NumRecords) > len(raw) {
		// A record takes at least one byte: a client cannot make the
		// gateway allocate for records it did not send.
		return nil, fmt.Errorf("%w: %d records in %d bytes", ErrCorruptBatch, b.NumRecords, len(raw))
	}
	out := make([]*kgo.Record, 0, b.NumRecords)
	for range b.NumRecords {
		length, used := kbin.Varint(raw)
		end := used + int(length)
		if used <= 0 || length < 0 || len(raw) < end {
			return nil, fmt.Errorf("%w: record %d truncated", ErrCorruptBatch, len(out))
		}
		r := kbin.Reader{Src: raw[used:end]}
		r.Int8() // attributes, unused
		tsDelta := r.Varlong()
		r.Varint() // offset delta: records are consecutive
		rec := &kgo.Record{Topic: topic, Partition: partition, Key: r.VarintBytes(), Value: r.VarintBytes()}
		if nh := int(r.VarintArrayLen()); nh > 0 {
			rec.Headers = make([]kgo.RecordHeader, nh)
			for i := range rec.Headers {
				rec.Headers[i] = kgo.RecordHeader{Key: r.VarintString(), Value: r.VarintBytes()}
			}
		}
		if !r.Ok() {
			return nil, fmt.Errorf("%w: record %d malformed", ErrCorruptBatch, len(out))
		}
		rec.Timestamp = time.UnixMilli(b.FirstTimestamp + tsDelta)
		out = append(out, rec)
		raw = raw[end:]
	}
	if len(raw) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after %d records", ErrCorruptBatch, len(raw), b.NumRecords)
	}
	return out, nil
}
