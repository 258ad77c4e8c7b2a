package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/partread"
)

// Snapshot is everything a state topic holds, latest version of each key.
type Snapshot struct {
	// Meta is nil when the migration has never run.
	Meta *Meta
	// Heartbeat is the last heartbeat of a running mirror, nil if none.
	Heartbeat *Heartbeat
	// UnitHeartbeats are the last heartbeats of each work unit's mirror
	// (units.go), by unit.
	UnitHeartbeats map[int]Heartbeat
	Checkpoints    map[TopicPartition]Checkpoint
	// Segments holds the encoded offset map segments by start offset.
	Segments map[TopicPartition]map[int64][]byte
	Expired  map[TopicPartition][]Expired

	// Cutover facts (cutover.go): the last recorded phase (nil before
	// any), promoted topics and switched groups by name, and the history,
	// oldest first.
	Phase    *Phase
	Promoted map[string]Promoted
	Switched map[string]Switched
	Events   []Event
	// Verified is the last verify run's summary (verify.go), nil if none.
	Verified *Verified
	// ACLs is the mirror's ACL sync record (acls.go), nil if none.
	ACLs []byte
}

func newSnapshot() *Snapshot {
	return &Snapshot{
		Checkpoints:    map[TopicPartition]Checkpoint{},
		UnitHeartbeats: map[int]Heartbeat{},
		Segments:       map[TopicPartition]map[int64][]byte{},
		Expired:        map[TopicPartition][]Expired{},
		Promoted:       map[string]Promoted{},
		Switched:       map[string]Switched{},
	}
}

// ErrNoState is returned by Load when the state topic does not exist: the
// migration has no state on the target yet (run kmigrate mirror first).
var ErrNoState = errors.New("no migration state on the target (no state topic)")

// ErrMismatch: the state topic under a migration's name records a
// migration between other clusters.
var ErrMismatch = errors.New("migration state belongs to other clusters")

// Load reads the whole state topic with read_committed isolation, up to
// its last stable offset at the time of the call. opts configure the
// reading client (connection and security); adm is an admin client to the
// same cluster.
//
// The records of aborted transactions (a killed mirror's checkpoints and
// offset map segments) are dropped by the rule of package partread, from
// the transaction markers in the log, so that Load does not depend on the
// broker's list of aborted transactions (which some brokers leave out).
func Load(ctx context.Context, adm *kadm.Client, topic string, opts []kgo.Opt) (*Snapshot, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("read end of state topic %s: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || errors.Is(end.Err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("%w %s", ErrNoState, topic)
	}
	if end.Err != nil {
		return nil, fmt.Errorf("read end of state topic %s: %w", topic, end.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("read start of state topic %s: %w", topic, err)
	}
	start, _ := starts.Lookup(topic, 0)
	snap := newSnapshot()
	if start.Err != nil {
		return nil, fmt.Errorf("read start of state topic %s: %w", topic, start.Err)
	}
	if end.Offset <= start.Offset {
		return snap, nil
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("state reader: %w", err)
	}
	defer cl.Close()
	rd := partread.New(cl, partread.NewLeaders(cl, "target"), topic, 0, loadFetchBytes)
	stalls := 0
	for next := start.Offset; next < end.Offset; {
		fp, after, err := rd.Fetch(ctx, next)
		if err != nil {
			return nil, fmt.Errorf("read state topic %s: %w", topic, err)
		}
		for _, r := range fp.Records {
			if r.Offset >= end.Offset {
				break
			}
			if err := snap.apply(r); err != nil {
				return nil, fmt.Errorf("state topic %s offset %d: %w", topic, r.Offset, err)
			}
		}
		if after > next {
			next, stalls = after, 0
			continue
		}
		// Nothing readable at next: compaction removed the records up to
		// the end, or the leader's last stable offset has not caught up
		// with end yet (it moved since end was listed).
		if fp.LastStableOffset >= end.Offset {
			break
		}
		if stalls++; stalls > loadStalls {
			return nil, fmt.Errorf("read state topic %s: no record readable at offset %d, below the last stable offset %d listed before", topic, next, end.Offset)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(loadStallWait):
		}
	}
	return snap, nil
}

// loadFetchBytes bounds each fetch of the state topic; records are small
// (a segment of the offset map is at most a few KiB).
const loadFetchBytes = 4 << 20

// Load waits up to loadStalls times loadStallWait for a leader whose last
// stable offset is below the one listed (after a leader change).
const (
	loadStalls    = 50
	loadStallWait = 100 * time.Millisecond
)

func (s *Snapshot) apply(r *kgo.Record) error {
	if ok, err := s.applyCutover(string(r.Key), r.Value); ok {
		return err
	}
	if ok, err := s.applyVerified(string(r.Key), r.Value); ok {
		return err
	}
	if ok, err := s.applyUnit(string(r.Key), r.Value); ok {
		return err
	}
	if s.applyACLs(string(r.Key), r.Value) {
		return nil
	}
	k, known, err := parseKey(string(r.Key))
	if err != nil || !known {
		return err
	}
	tombstone := r.Value == nil
	switch k.kind {
	case keyMeta:
		if tombstone {
			s.Meta = nil
			return nil
		}
		var m Meta
		if err := decode(r.Value, &m); err != nil {
			return err
		}
		if m.Version > MetaVersionUnits {
			return fmt.Errorf("state written by a newer kmigrate (version %d, this one reads %d): upgrade kmigrate", m.Version, MetaVersionUnits)
		}
		s.Meta = &m
	case keyHeartbeat:
		if tombstone {
			s.Heartbeat = nil
			return nil
		}
		var h Heartbeat
		if err := decode(r.Value, &h); err != nil {
			return err
		}
		s.Heartbeat = &h
	case kindCkpt:
		if tombstone {
			delete(s.Checkpoints, k.tp)
			return nil
		}
		var c Checkpoint
		if err := decode(r.Value, &c); err != nil {
			return err
		}
		s.Checkpoints[k.tp] = c
	case kindOffsetMap:
		segs := s.Segments[k.tp]
		if tombstone {
			delete(segs, k.first)
			return nil
		}
		if segs == nil {
			segs = map[int64][]byte{}
			s.Segments[k.tp] = segs
		}
		segs[k.first] = r.Value
	case kindExpired:
		exp := s.Expired[k.tp]
		exp = slices.DeleteFunc(exp, func(e Expired) bool { return e.From == k.first })
		if !tombstone {
			var e Expired
			if err := decode(r.Value, &e); err != nil {
				return err
			}
			exp = append(exp, e)
			slices.SortFunc(exp, func(a, b Expired) int { return int(a.From - b.From) })
		}
		s.Expired[k.tp] = exp
	}
	return nil
}

func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode state value: %w", err)
	}
	return nil
}

// Partitions returns the partitions with a checkpoint, sorted.
func (s *Snapshot) Partitions() []TopicPartition {
	tps := slices.Collect(maps.Keys(s.Checkpoints))
	slices.SortFunc(tps, func(a, b TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return tps
}
