package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Sentinels for batches the gateway refuses.
var (
	ErrCorruptBatch       = errors.New("corrupt record batch")
	ErrTransactionalBatch = errors.New("transactional record batch")
)

// Record batch v2 layout (Kafka's DefaultRecordBatch): the byte offsets of
// the header fields the gateway reads or rewrites. The CRC-32C covers
// everything from the attributes to the end of the batch.
const (
	offLength        = 8  // int32: bytes after this field
	offMagic         = 16 // int8
	offCRC           = 17 // uint32
	offAttributes    = 21 // int16
	offProducerID    = 43 // int64
	offProducerEpoch = 51 // int16
	offBaseSequence  = 53 // int32
	offNumRecords    = 57 // int32
	batchHeaderBytes = 61 // baseOffset through numRecords
)

// batch attributes.
const (
	attrTransactional = 0x10
	attrControl       = 0x20
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// clientBatch is one record batch of a client's produce request: its bytes
// (forwarded as they are but for the producer fields of the header) and
// the header fields the gateway's sequence bookkeeping needs.
type clientBatch struct {
	raw        []byte
	producerID int64
	epoch      int16
	firstSeq   int32
	numRecords int32
}

// decodeBatches splits a produce request's records into record batches,
// checking each one's length, CRC, magic and attributes. The records
// themselves are not decoded: the upstream broker validates them, and the
// gateway forwards them unchanged.
func decodeBatches(raw []byte) ([]clientBatch, error) {
	var out []clientBatch
	for len(raw) > 0 {
		if len(raw) < batchHeaderBytes {
			return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptBatch, len(raw))
		}
		n := 12 + int(int32(binary.BigEndian.Uint32(raw[offLength:])))
		if n < batchHeaderBytes || n > len(raw) {
			return nil, fmt.Errorf("%w: length %d of %d bytes", ErrCorruptBatch, n, len(raw))
		}
		b := raw[:n:n]
		attrs := binary.BigEndian.Uint16(b[offAttributes:])
		count := int32(binary.BigEndian.Uint32(b[offNumRecords:]))
		switch {
		case b[offMagic] != 2:
			return nil, fmt.Errorf("%w: magic %d (only record batches v2)", ErrCorruptBatch, b[offMagic])
		case binary.BigEndian.Uint32(b[offCRC:]) != crc32.Checksum(b[offAttributes:], crc32c):
			return nil, fmt.Errorf("%w: CRC mismatch", ErrCorruptBatch)
		case attrs&(attrTransactional|attrControl) != 0:
			return nil, ErrTransactionalBatch
		case count <= 0 || int(count) > n-batchHeaderBytes && attrs&0x07 == 0:
			// An uncompressed record takes at least one byte.
			return nil, fmt.Errorf("%w: %d records in %d bytes", ErrCorruptBatch, count, n-batchHeaderBytes)
		}
		out = append(out, clientBatch{
			raw:        b,
			producerID: int64(binary.BigEndian.Uint64(b[offProducerID:])),
			epoch:      int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
			firstSeq:   int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
			numRecords: count,
		})
		raw = raw[n:]
	}
	return out, nil
}

// rewriteProducer sets a batch's producer id, epoch and base sequence to
// the gateway's own for the upstream cluster and recomputes its CRC.
func rewriteProducer(b []byte, id int64, epoch int16, seq int32) {
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(id))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(seq))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32c))
}
