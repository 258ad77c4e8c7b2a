package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Snapshot is everything a state topic holds, latest version of each key.
type Snapshot struct {
	// Meta is nil when the migration has never run.
	Meta *Meta
	// Heartbeat is the last heartbeat of a running mirror, nil if none.
	Heartbeat   *Heartbeat
	Checkpoints map[TopicPartition]Checkpoint
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
}

func newSnapshot() *Snapshot {
	return &Snapshot{
		Checkpoints: map[TopicPartition]Checkpoint{},
		Segments:    map[TopicPartition]map[int64][]byte{},
		Expired:     map[TopicPartition][]Expired{},
		Promoted:    map[string]Promoted{},
		Switched:    map[string]Switched{},
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
// consuming client (connection and security); cl is an admin client to the
// same cluster.
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
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(start.Offset)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("state reader: %w", err)
	}
	defer cl.Close()
	for next := start.Offset; next < end.Offset; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			return nil, fmt.Errorf("read state topic %s: %w", topic, ferr)
		}
		for _, r := range fs.Records() {
			next = r.Offset + 1
			if r.Attrs.IsControl() {
				continue
			}
			if err := snap.apply(r); err != nil {
				return nil, fmt.Errorf("state topic %s offset %d: %w", topic, r.Offset, err)
			}
		}
		// Compaction may have removed records up to the end; the last
		// stable offset says when nothing readable remains.
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.LastStableOffset >= end.Offset && len(p.Records) == 0 {
				next = max(next, end.Offset)
			}
		})
	}
	return snap, nil
}

func (s *Snapshot) apply(r *kgo.Record) error {
	if ok, err := s.applyCutover(string(r.Key), r.Value); ok {
		return err
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
		if m.Version > Version {
			return fmt.Errorf("state written by a newer kmigrate (version %d, this one reads %d): upgrade kmigrate", m.Version, Version)
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
