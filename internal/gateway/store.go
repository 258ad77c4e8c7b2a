package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/state"
)

// View is what a gateway reads from the migration's state: the mirror's
// checkpoints, the promoted topics and the gateways' own coordination
// facts (coord.go).
type View struct {
	// Promoted holds the promoted source topics.
	Promoted map[string]bool
	// Next is each source partition's checkpoint: the next offset the
	// mirror will copy.
	Next map[state.TopicPartition]int64
	// Members are the gateways serving the migration, by id.
	Members map[string]Member
	// Holds are the switches in progress, by topic.
	Holds map[string]Hold
	// Held are the gateways that hold a topic and drained it, by topic
	// then gateway id: the nonce of the hold they acknowledge.
	Held map[string]map[string]string
	// Bases are the offset spaces of topics switched through a gateway.
	Bases map[string]Base
}

func newView() *View {
	return &View{Promoted: map[string]bool{}, Next: map[state.TopicPartition]int64{},
		Members: map[string]Member{}, Holds: map[string]Hold{}, Held: map[string]map[string]string{},
		Bases: map[string]Base{}}
}

func (v *View) clone() *View {
	c := newView()
	for k, x := range v.Promoted {
		c.Promoted[k] = x
	}
	for k, x := range v.Next {
		c.Next[k] = x
	}
	for k, x := range v.Members {
		c.Members[k] = x
	}
	for k, x := range v.Holds {
		c.Holds[k] = x
	}
	for k, x := range v.Bases {
		c.Bases[k] = x // values are never changed in place
	}
	for t, m := range v.Held {
		c.Held[t] = map[string]string{}
		for k, x := range m {
			c.Held[t][k] = x
		}
	}
	return c
}

// Store is the migration's state as gateways share it. Read returns a
// view that includes everything written before the call; Write appends
// records (a nil Value deletes a key).
type Store interface {
	Read(ctx context.Context) (*View, error)
	Write(ctx context.Context, records ...*kgo.Record) error
}

// NewStateStore returns the Store of migration: its state topic on the
// target, followed by one long-lived consumer (read_committed), so a read
// costs only what was written since the last. cl is a client to the
// target (it writes); readOpts connect the follower (cluster.Opts). Close
// it when done.
func NewStateStore(cl *kgo.Client, migration string, readOpts []kgo.Opt) (*StateStore, error) {
	topic := state.TopicName(migration)
	rd, err := kgo.NewClient(append(readOpts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are returned, so a read whose last
		// records below the end are markers (or an aborted
		// transaction's, which are skipped) still reaches the end: kgo
		// returns no fetch that carries nothing, and Read would wait
		// for the next write (a gateway heartbeats before each read,
		// kmigrate promote does not).
		kgo.KeepControlRecords(),
		kgo.MetadataMinAge(250*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("state follower: %w", err)
	}
	return &StateStore{cl: cl, rd: rd, adm: kadm.NewClient(rd), topic: topic, view: newView()}, nil
}

// StateStore follows a migration's state topic; see NewStateStore.
type StateStore struct {
	cl    *kgo.Client
	rd    *kgo.Client
	adm   *kadm.Client
	topic string

	mu   sync.Mutex // one reader at a time; guards next and view
	next int64
	view *View
}

// Close stops the follower.
func (s *StateStore) Close() { s.rd.Close() }

// Write produces records to the state topic and waits for them, or for
// ctx. franz-go does not give up on a record already sent when its context
// ends (it may have been written), so a write to an unreachable target is
// left to finish or fail in the background (until the client closes): the
// caller's bound holds, and the write may still land later.
func (s *StateStore) Write(ctx context.Context, records ...*kgo.Record) error {
	for _, r := range records {
		r.Topic = s.topic
	}
	done := make(chan error, 1)
	go func() { done <- state.Write(ctx, s.cl, records...) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("write migration state: %w (it may still be written)", ctx.Err())
	}
}

// Read catches up with the state topic's last stable offset as of the
// call and returns the view. It fails with ErrNoMirror while the state
// topic does not exist.
func (s *StateStore) Read(ctx context.Context) (*View, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ends, err := s.adm.ListCommittedOffsets(ctx, s.topic)
	if err != nil {
		return nil, fmt.Errorf("read end of state topic %s: %w", s.topic, err)
	}
	end, ok := ends.Lookup(s.topic, 0)
	switch {
	case !ok || errors.Is(end.Err, kerr.UnknownTopicOrPartition):
		return nil, fmt.Errorf("%s: %w", s.topic, ErrNoMirror)
	case end.Err != nil:
		return nil, fmt.Errorf("read end of state topic %s: %w", s.topic, end.Err)
	}
	for s.next < end.Offset {
		fs := s.rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			return nil, fmt.Errorf("read state topic %s: %w", s.topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			s.next = r.Offset + 1
			if !r.Attrs.IsControl() {
				s.view.apply(string(r.Key), r.Value)
			}
		})
		// Compaction or a trailing commit marker may leave nothing
		// readable below the end.
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.LastStableOffset >= end.Offset && len(p.Records) == 0 {
				s.next = max(s.next, end.Offset)
			}
		})
	}
	return s.view.clone(), nil
}

// apply applies one state record; keys a gateway does not need, and
// values it cannot decode, are skipped (the state package owns them).
func (v *View) apply(key string, value []byte) {
	parts := strings.Split(key, "/")
	switch {
	case len(parts) == 2 && parts[0] == "promoted":
		if value == nil {
			delete(v.Promoted, parts[1])
		} else {
			v.Promoted[parts[1]] = true
		}
	case len(parts) == 3 && parts[0] == "checkpoint":
		p, err := strconv.ParseInt(parts[2], 10, 32)
		var c state.Checkpoint
		if err == nil && value != nil && json.Unmarshal(value, &c) == nil {
			v.Next[state.TopicPartition{Topic: parts[1], Partition: int32(p)}] = c.Next
		}
	case len(parts) >= 3 && parts[0] == keyGateway:
		v.applyGateway(parts[1:], value)
	}
}
