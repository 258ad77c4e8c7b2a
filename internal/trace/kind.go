package trace

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

// Source names a source partition: the one whose copies a reader looks
// for on the target.
type Source struct {
	ClusterID string // source cluster id
	Topic     string // source topic
	Partition int32  // source partition
}

// Kind is what a record is, judged by its tracing header, to a source
// partition (Of) or a source cluster (FromCluster).
type Kind uint8

const (
	// Native: the record has no tracing header, or one naming another
	// cluster; nothing this migration copied from the source (a producer
	// wrote it, or another migration copied it).
	Native Kind = iota
	// Copy: the header names the source partition (Of) or cluster
	// (FromCluster); the Raw returned says which offset.
	Copy
	// Sibling: the header names the source cluster but another topic or
	// partition (Of only). Where copies of one partition are expected it
	// is a mistake to report, not a native record.
	Sibling
	// Corrupt: the header is there but does not decode (the error says
	// why). See the package doc: never Native, never Copy.
	Corrupt
)

// String returns the kind's name: "native", "copy", "sibling", "corrupt".
func (k Kind) String() string {
	switch k {
	case Native:
		return "native"
	case Copy:
		return "copy"
	case Sibling:
		return "sibling"
	case Corrupt:
		return "corrupt"
	}
	return "unknown"
}

// Of says what the record with headers is to the source partition src: a
// Copy of it (r.Offset is the source offset), a Sibling (a copy of another
// partition of src's cluster), Native, or Corrupt (err wraps ErrVersion or
// ErrMalformed). It does not allocate; r aliases the header's value.
func Of(headers []kgo.RecordHeader, src Source) (r Raw, k Kind, err error) {
	r, k, err = FromCluster(headers, src.ClusterID)
	if k == Copy && (r.Partition != src.Partition || string(r.Topic) != src.Topic) {
		k = Sibling
	}
	return r, k, err
}

// FromCluster says what the record with headers is to the cluster whose id
// is clusterID: a Copy of a record of any of its partitions (r says
// which), Native, or Corrupt (err wraps ErrVersion or ErrMalformed). A
// mirror asks it about the cluster it writes to, to never copy a record
// back where it came from. It does not allocate; r aliases the header's
// value.
func FromCluster(headers []kgo.RecordHeader, clusterID string) (r Raw, k Kind, err error) {
	r, ok, err := FindRaw(headers)
	switch {
	case err != nil:
		return Raw{}, Corrupt, err
	case !ok || string(r.ClusterID) != clusterID:
		return Raw{}, Native, nil
	}
	return r, Copy, nil
}
