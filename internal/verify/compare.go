package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/maphash"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/trace"
)

// diff returns the fields in which copy differs from src: key, value,
// headers (without kmigrate's tracing headers) and timestamp (Unix
// milliseconds, as Kafka stores it). Null and empty differ. It does not
// allocate.
func diff(src, copy *kgo.Record) []string {
	var out []string
	if !equalBytes(src.Key, copy.Key) {
		out = append(out, FieldKey)
	}
	if !equalBytes(src.Value, copy.Value) {
		out = append(out, FieldValue)
	}
	if !equalHeaders(src.Headers, copy.Headers) {
		out = append(out, FieldHeaders)
	}
	if src.Timestamp.UnixMilli() != copy.Timestamp.UnixMilli() {
		out = append(out, FieldTimestamp)
	}
	return out
}

// restamp gives a copy the target stamped with its own time (its batch
// says LogAppendTime: the target topic has
// message.timestamp.type=LogAppendTime) the timestamp its tracing header
// keeps: the source record's, which is what the mirror produced. It
// reports whether it did.
func restamp(copy *kgo.Record, h trace.Raw) bool {
	if copy.Attrs.TimestampType() != 1 {
		return false
	}
	copy.Timestamp = time.UnixMilli(h.Timestamp)
	return true
}

// restampNote explains restamped copies in a partition's report.
func restampNote(n int64) string {
	return fmt.Sprintf("the target stamped %d copies with its own time (message.timestamp.type=LogAppendTime): their timestamps were compared as the source timestamps kept in their tracing headers", n)
}

// equalBytes is bytes.Equal that tells null from empty.
func equalBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// equalHeaders compares the non-tracing headers of a and b, in order,
// without allocating.
func equalHeaders(a, b []kgo.RecordHeader) bool {
	i, j := 0, 0
	for {
		for i < len(a) && trace.IsTracing(a[i].Key) {
			i++
		}
		for j < len(b) && trace.IsTracing(b[j].Key) {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if a[i].Key != b[j].Key || !equalBytes(a[i].Value, b[j].Value) {
			return false
		}
		i++
		j++
	}
}

// fingerprint is what a walk keeps of a source record it may still have
// to compare with a copy that comes later (out of order): a 64-bit hash
// per field. Collisions could hide a difference in an out-of-order copy
// with probability 2^-64; the copy is a problem anyway.
type fingerprint struct {
	key, value, headers uint64
	timestamp           int64
	tombstone           bool
}

// fingerprinter hashes records with one seed.
type fingerprinter struct{ seed maphash.Seed }

func newFingerprinter() fingerprinter { return fingerprinter{seed: maphash.MakeSeed()} }

func (f fingerprinter) bytes(b []byte) uint64 {
	if b == nil {
		return maphash.String(f.seed, "\x00null")
	}
	return maphash.Bytes(f.seed, b)
}

func (f fingerprinter) of(r *kgo.Record) fingerprint {
	var h maphash.Hash
	h.SetSeed(f.seed)
	var n [8]byte
	for _, hd := range r.Headers {
		if trace.IsTracing(hd.Key) {
			continue
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(hd.Key)))
		h.Write(n[:])
		h.WriteString(hd.Key)
		vl := int64(len(hd.Value))
		if hd.Value == nil {
			vl = -1
		}
		binary.BigEndian.PutUint64(n[:], uint64(vl))
		h.Write(n[:])
		h.Write(hd.Value)
	}
	return fingerprint{
		key: f.bytes(r.Key), value: f.bytes(r.Value), headers: h.Sum64(),
		timestamp: r.Timestamp.UnixMilli(), tombstone: r.Value == nil,
	}
}

// diff is diff for fingerprints.
func (a fingerprint) diff(b fingerprint) []string {
	var out []string
	if a.key != b.key {
		out = append(out, FieldKey)
	}
	if a.value != b.value {
		out = append(out, FieldValue)
	}
	if a.headers != b.headers {
		out = append(out, FieldHeaders)
	}
	if a.timestamp != b.timestamp {
		out = append(out, FieldTimestamp)
	}
	return out
}

// digester is a partition's order-sensitive content digest. Each record
// contributes, big-endian:
//
//	int32  key length, -1 for a null key; the key
//	int32  value length, -1 for a null value (tombstone); the value
//	int32  number of headers, without kmigrate's tracing headers; then
//	       per header: int32 key length, the key, int32 value length
//	       (-1 for null), the value
//	int64  timestamp, Unix milliseconds
//
// The SHA-256 of the concatenation over the records, in partition order, is
// the digest. Offsets are not part of it: they differ between the clusters.
type digester struct {
	h   hash.Hash
	buf []byte
	n   int64
}

func newDigester() *digester { return &digester{h: sha256.New(), buf: make([]byte, 0, 64)} }

func (d *digester) add(r *kgo.Record) {
	// Key and value are written straight from the record (the value may
	// be large); the small fields go through one buffer.
	b := appendLen(d.buf[:0], r.Key)
	b = append(b, r.Key...)
	b = appendLen(b, r.Value)
	d.h.Write(b)
	d.h.Write(r.Value)
	b = b[:0]
	headers := 0
	for _, hd := range r.Headers {
		if !trace.IsTracing(hd.Key) {
			headers++
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(headers))
	for _, hd := range r.Headers {
		if trace.IsTracing(hd.Key) {
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(hd.Key)))
		b = append(b, hd.Key...)
		b = appendLen(b, hd.Value)
		b = append(b, hd.Value...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.Timestamp.UnixMilli()))
	d.h.Write(b)
	d.buf = b[:0]
	d.n++
}

func appendLen(b, v []byte) []byte {
	if v == nil {
		return binary.BigEndian.AppendUint32(b, 0xffffffff)
	}
	return binary.BigEndian.AppendUint32(b, uint32(len(v)))
}

func (d *digester) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// clone returns an independent digester in the same state.
func (d *digester) clone() *digester {
	state, err := d.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("verify: sha256 state: %v", err)) // crypto/sha256 always marshals
	}
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		panic(fmt.Sprintf("verify: sha256 state: %v", err))
	}
	return &digester{h: h, buf: make([]byte, 0, 64), n: d.n}
}

// digests are a partition's two digests: of the source records, in source
// order, and of their copies, in target order.
//
// Hashing is most of a full walk's CPU, so the target digest is not
// computed twice over equal bytes: while the copies so far are, in order,
// exactly the source records so far (each compared field by field, which
// covers everything the digest encodes), the target digest shares the
// source digest's state, since hashing equal bytes gives the same state.
// The first difference of any kind (a gap, a mismatch, a copy out of order,
// a duplicate) forks it: it continues from a copy of the state at that
// point, over the target's own records. The tests compare the result with
// an independent digest of the target records.
type digests struct {
	src, tgt *digester
	shared   bool
}

func newDigests() *digests { return &digests{src: newDigester(), shared: true} }

func (d *digests) fork() {
	if d.shared {
		d.tgt, d.shared = d.src.clone(), false
	}
}

// same adds a source record and its copy, equal in every field.
func (d *digests) same(src, copy *kgo.Record) {
	d.src.add(src)
	if !d.shared {
		d.tgt.add(copy)
	}
}

// source adds a source record without a copy at this point.
func (d *digests) source(r *kgo.Record) {
	d.fork()
	d.src.add(r)
}

// target adds a copy that is not an equal copy of the next source record.
func (d *digests) target(r *kgo.Record) {
	d.fork()
	d.tgt.add(r)
}

func (d *digests) sums() (src, tgt string) {
	src = d.src.sum()
	if d.shared {
		return src, src
	}
	return src, d.tgt.sum()
}
