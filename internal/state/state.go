package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TopicPrefix starts the name of every kmigrate state topic. Topic
// selection treats names starting with "__" as internal, so kmigrate never
// mirrors its own state.
const TopicPrefix = "__kmigrate-"

// TopicName is the state topic of the migration called name.
func TopicName(migration string) string { return TopicPrefix + migration }

// TransactionalID is the transactional id migration's mirror produces
// with on the target.
func TransactionalID(migration string) string { return "kmigrate-" + migration }

// DefaultName is the migration name used when the spec gives none: stable
// for a pair of clusters, so that re-running the same command resumes and
// later commands with the same flags find the same state.
func DefaultName(sourceID, targetID string) string {
	sum := sha256.Sum256([]byte(sourceID + "\x00" + targetID))
	return "m-" + hex.EncodeToString(sum[:6])
}

// Version is the version of the Meta and Checkpoint encodings. A reader
// refuses state written by a newer version.
const Version = 1

// TopicPartition names a source partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// Meta says who a migration is. It is written when the migration first runs
// and checked on every later run, so that state is never applied to the
// wrong pair of clusters.
type Meta struct {
	Version         int               `json:"version"`
	Migration       string            `json:"migration"`
	SourceClusterID string            `json:"source_cluster_id"`
	TargetClusterID string            `json:"target_cluster_id"`
	Created         time.Time         `json:"created"`
	Guarantee       string            `json:"guarantee"`
	TracingHeaders  bool              `json:"tracing_headers"`
	Topics          map[string]string `json:"topics"` // source name -> target name
	// Units is the number of work units the migration's partitions are
	// divided into (package units), fixed when it is first set; 0 (state
	// written before units existed) and 1 mean one unit copied under the
	// migration's own transactional id. Meta with Units above 1 is written
	// as version MetaVersionUnits, which kmigrate before units refuses.
	Units int `json:"units,omitempty"`
}

// Checkpoint is how far a source partition has been copied.
type Checkpoint struct {
	Version int `json:"version"`
	// Next is the next source offset to copy: every source offset below it
	// has been copied or was not copyable (a control record, an aborted
	// or looped-back record, or an expired range).
	Next int64 `json:"next"`
	// TargetNext is the target partition's end offset after the
	// transaction that wrote this checkpoint (excluding its own commit
	// marker).
	TargetNext int64 `json:"target_next"`
	// Records counts the records copied so far.
	Records int64     `json:"records"`
	Updated time.Time `json:"updated"`
	// Start is the source offset the mirror began this partition at
	// (after any range that had expired): it read every offset from Start
	// up to Next, so an offset in between that holds no copied record was
	// a gap (compaction, a transaction marker, an aborted record), not a
	// record the mirror missed. Nil in state written before kmigrate
	// recorded it.
	Start *int64 `json:"start,omitempty"`
}

// Expired is a source range that was deleted (retention, DeleteRecords)
// before it could be copied. It is reported, never pretended copied.
type Expired struct {
	Version  int       `json:"version"`
	From     int64     `json:"from"`  // first missing source offset
	Until    int64     `json:"until"` // the log start offset copying resumed at
	Reason   string    `json:"reason"`
	Detected time.Time `json:"detected"`
}

// Count is the number of offsets in the range.
func (e Expired) Count() int64 { return e.Until - e.From }

// Heartbeat is written by the running mirror when it has had nothing else
// to write for a while. It proves the writer is alive and still owns the
// migration (a fenced process fails to write it), and tells status readers
// which process is mirroring.
type Heartbeat struct {
	Version int       `json:"version"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Time    time.Time `json:"time"`
	// Instance tells apart two mirrors in one process (tests, a pool's
	// units): random per mirror, "" in heartbeats of older versions.
	Instance string `json:"instance,omitempty"`
}

// HeartbeatRecord returns the record that stores h.
func HeartbeatRecord(topic string, h Heartbeat) (*kgo.Record, error) {
	h.Version = Version
	return jsonRecord(topic, keyHeartbeat, h)
}

const (
	keyHeartbeat  = "heartbeat"
	keyMeta       = "meta"
	kindCkpt      = "checkpoint"
	kindOffsetMap = "offsetmap"
	kindExpired   = "expired"
)

func tpKey(kind string, tp TopicPartition) string {
	return kind + "/" + tp.Topic + "/" + strconv.FormatInt(int64(tp.Partition), 10)
}

// MetaRecord returns the record that stores m.
func MetaRecord(topic string, m Meta) (*kgo.Record, error) {
	m.Version = Version
	if m.Units > 1 {
		m.Version = MetaVersionUnits
	}
	return jsonRecord(topic, keyMeta, m)
}

// CheckpointRecord returns the record that stores c for tp.
func CheckpointRecord(topic string, tp TopicPartition, c Checkpoint) (*kgo.Record, error) {
	c.Version = Version
	return jsonRecord(topic, tpKey(kindCkpt, tp), c)
}

// ExpiredRecord returns the record that stores e for tp.
func ExpiredRecord(topic string, tp TopicPartition, e Expired) (*kgo.Record, error) {
	e.Version = Version
	return jsonRecord(topic, tpKey(kindExpired, tp)+"/"+strconv.FormatInt(e.From, 10), e)
}

// OffsetMapRecord returns the record that stores one offset map segment of
// tp, the one starting at source offset first; value is its encoding.
func OffsetMapRecord(topic string, tp TopicPartition, first int64, value []byte) *kgo.Record {
	return &kgo.Record{
		Topic:     topic,
		Partition: 0,
		Key:       []byte(tpKey(kindOffsetMap, tp) + "/" + strconv.FormatInt(first, 10)),
		Value:     value,
	}
}

func jsonRecord(topic, key string, v any) (*kgo.Record, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode state %q: %w", key, err)
	}
	return &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: b}, nil
}

// key is a parsed state record key.
type key struct {
	kind  string
	tp    TopicPartition
	first int64 // offsetmap segment start, expired range start
}

// parseKey parses a state key; ok is false for keys this version does not
// know (written by a newer kmigrate), which readers skip.
func parseKey(k string) (key, bool, error) {
	if k == keyMeta || k == keyHeartbeat {
		return key{kind: k}, true, nil
	}
	parts := strings.Split(k, "/")
	var want int
	switch parts[0] {
	case kindCkpt:
		want = 3
	case kindOffsetMap, kindExpired:
		want = 4
	default:
		return key{}, false, nil
	}
	if len(parts) != want || parts[1] == "" {
		return key{}, false, fmt.Errorf("malformed state key %q", k)
	}
	p, err := strconv.ParseInt(parts[2], 10, 32)
	if err != nil || p < 0 {
		return key{}, false, fmt.Errorf("malformed partition in state key %q", k)
	}
	out := key{kind: parts[0], tp: TopicPartition{Topic: parts[1], Partition: int32(p)}}
	if want == 4 {
		if out.first, err = strconv.ParseInt(parts[3], 10, 64); err != nil || out.first < 0 {
			return key{}, false, fmt.Errorf("malformed offset in state key %q", k)
		}
	}
	return out, true, nil
}
