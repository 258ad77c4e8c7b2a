package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kmigrate/kmigrate/internal/varint"
)

// HeaderKey is the name of the header that carries a record's Origin.
const HeaderKey = "kmigrate.src"

// Version is the format version that Encoder writes and Decode reads.
const Version = 1

// prefix starts the name of every header kmigrate writes.
const prefix = "kmigrate"

// IsTracing reports whether a header name belongs to kmigrate (it starts
// with "kmigrate"). Such headers are never copied from a source record.
func IsTracing(key string) bool { return strings.HasPrefix(key, prefix) }

// Errors returned by Decode, DecodeRaw and Find. Test with errors.Is.
var (
	// ErrVersion: the value was written in a format version this kmigrate
	// does not read (by a newer kmigrate, or it is not a tracing value).
	ErrVersion = errors.New("unsupported tracing header version")
	// ErrMalformed: the value is truncated, has trailing bytes, or holds a
	// field out of range.
	ErrMalformed = errors.New("malformed tracing header")
)

// Origin is where a mirrored record came from.
type Origin struct {
	ClusterID string // source cluster id
	Topic     string // source topic
	Partition int32  // source partition
	Offset    int64  // source offset
	Timestamp int64  // source record timestamp, Unix milliseconds as Kafka stores it
}

// String formats o as "cluster/topic/partition@offset" for logs and errors.
func (o Origin) String() string {
	return o.ClusterID + "/" + o.Topic + "/" + strconv.FormatInt(int64(o.Partition), 10) +
		"@" + strconv.FormatInt(o.Offset, 10)
}

// AppendBinary appends the encoding of o to dst (it implements
// encoding.BinaryAppender). It fails for a negative partition or offset,
// which Decode would reject. The mirror uses an Encoder instead.
func (o Origin) AppendBinary(dst []byte) ([]byte, error) {
	if o.Partition < 0 {
		return dst, fmt.Errorf("encode origin %s: negative partition %d", o, o.Partition)
	}
	if o.Offset < 0 {
		return dst, fmt.Errorf("encode origin %s: negative offset %d", o, o.Offset)
	}
	dst = appendPrefix(dst, o.ClusterID, o.Topic)
	return appendNumbers(dst, o.Partition, o.Offset, o.Timestamp), nil
}

// Encoder writes tracing values for records of one source topic. Build one
// per (cluster id, topic) with NewEncoder and reuse it: the constant part of
// the value is computed once. An Encoder is immutable and safe for
// concurrent use.
type Encoder struct {
	prefix []byte // version, cluster id and topic, encoded
}

// NewEncoder returns an Encoder for records of topic on the cluster whose id
// is clusterID.
func NewEncoder(clusterID, topic string) *Encoder {
	p := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(clusterID)+len(topic))
	return &Encoder{prefix: appendPrefix(p, clusterID, topic)}
}

// Append appends the tracing value for the record at partition and offset
// with the given timestamp (Unix milliseconds) to dst and returns the
// extended slice. It does not allocate when dst has MaxLen bytes to spare.
//
// partition and offset must not be negative (they come from Kafka, which
// never hands out negative ones); Append does not check, to stay cheap on
// the hot path, and Decode rejects such values.
func (e *Encoder) Append(dst []byte, partition int32, offset, timestampMs int64) []byte {
	dst = append(dst, e.prefix...)
	return appendNumbers(dst, partition, offset, timestampMs)
}

// MaxLen is the largest value Append can produce, for sizing buffers that
// hold the values of many records.
func (e *Encoder) MaxLen() int {
	const maxInt32Varint = 5
	return len(e.prefix) + maxInt32Varint + 2*binary.MaxVarintLen64
}

func appendPrefix(dst []byte, clusterID, topic string) []byte {
	dst = append(dst, Version)
	dst = binary.AppendUvarint(dst, uint64(len(clusterID)))
	dst = append(dst, clusterID...)
	dst = binary.AppendUvarint(dst, uint64(len(topic)))
	return append(dst, topic...)
}

func appendNumbers(dst []byte, partition int32, offset, timestampMs int64) []byte {
	dst = binary.AppendVarint(dst, int64(partition))
	dst = binary.AppendVarint(dst, offset)
	return binary.AppendVarint(dst, timestampMs)
}

// Raw is a decoded value whose strings are sub-slices of the decoded buffer:
// decoding it does not allocate, and it is valid only as long as the buffer
// is not modified. Compare a field with a string as string(r.ClusterID) == s,
// which the compiler does without allocating.
type Raw struct {
	ClusterID []byte
	Topic     []byte
	Partition int32
	Offset    int64
	Timestamp int64
}

// Decode decodes a tracing value. It is strict: any value that the Encoder
// would not have produced exactly is an error wrapping ErrVersion or
// ErrMalformed, and no input makes it panic.
func Decode(b []byte) (Origin, error) {
	f, err := decode(b)
	if err != nil {
		return Origin{}, err
	}
	// One allocation for both strings: copy the span from the start of the
	// cluster id to the end of the topic (the topic's length sits between
	// them) and slice it.
	s := string(b[f.cluster.start:f.topic.end])
	return Origin{
		ClusterID: s[:f.cluster.end-f.cluster.start],
		Topic:     s[f.topic.start-f.cluster.start:],
		Partition: f.partition,
		Offset:    f.offset,
		Timestamp: f.timestamp,
	}, nil
}

// DecodeRaw is Decode without allocating: see Raw. It applies the same
// checks.
func DecodeRaw(b []byte) (Raw, error) {
	f, err := decode(b)
	if err != nil {
		return Raw{}, err
	}
	// Full slice expressions, so that appending to a field cannot write
	// over the rest of the value.
	return Raw{
		ClusterID: b[f.cluster.start:f.cluster.end:f.cluster.end],
		Topic:     b[f.topic.start:f.topic.end:f.topic.end],
		Partition: f.partition,
		Offset:    f.offset,
		Timestamp: f.timestamp,
	}, nil
}

// span is where a string field lies in the value: b[start:end].
type span struct{ start, end int }

type fields struct {
	cluster, topic    span
	partition         int32
	offset, timestamp int64
}

func decode(b []byte) (fields, error) {
	if len(b) == 0 {
		return fields{}, fmt.Errorf("%w: empty value", ErrMalformed)
	}
	if b[0] != Version {
		return fields{}, fmt.Errorf("%w %d (this kmigrate reads version %d)", ErrVersion, b[0], Version)
	}
	d := decoder{varint.Reader{B: b, Off: 1, Wrap: ErrMalformed}}
	var f fields
	f.cluster = d.bytes("cluster id", "cluster id length")
	f.topic = d.bytes("topic", "topic length")
	partition := d.varint("partition")
	f.offset = d.varint("offset")
	f.timestamp = d.varint("timestamp")
	if d.Err != nil {
		return fields{}, d.Err
	}
	if d.Off != len(b) {
		return fields{}, fmt.Errorf("%w: %d trailing bytes after the timestamp", ErrMalformed, len(b)-d.Off)
	}
	if partition < 0 || partition > math.MaxInt32 {
		return fields{}, fmt.Errorf("%w: partition %d out of range", ErrMalformed, partition)
	}
	if f.offset < 0 {
		return fields{}, fmt.Errorf("%w: negative offset %d", ErrMalformed, f.offset)
	}
	f.partition = int32(partition)
	return f, nil
}

// decoder reads fields in order with the shared strict uvarint reader; the
// first error sticks and later reads return zero values, so decode checks
// once at the end.
type decoder struct{ varint.Reader }

// bytes reads a length-prefixed string. (The two names are separate
// constants because building one from the other would allocate.)
func (d *decoder) bytes(field, lengthField string) span {
	n := d.Uvarint(lengthField)
	if d.Err != nil {
		return span{}
	}
	if rest := uint64(len(d.B) - d.Off); n > rest {
		d.Fail(fmt.Errorf("%w: %s length %d exceeds the %d remaining bytes", ErrMalformed, field, n, rest))
		return span{}
	}
	s := span{d.Off, d.Off + int(n)}
	d.Off = s.end
	return s
}

// varint reads a zigzag-encoded signed varint.
func (d *decoder) varint(field string) int64 {
	u := d.Uvarint(field)
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}
