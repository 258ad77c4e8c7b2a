package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/state"
)

// NewStateStore returns the Store of migration: its state topic on the
// target. cl is a client to the target (it writes promotions); readOpts
// connect the state reader to the target (cluster.Opts).
func NewStateStore(cl *kgo.Client, migration string, readOpts []kgo.Opt) Store {
	return &stateStore{cl: cl, adm: kadm.NewClient(cl), topic: state.TopicName(migration), opts: readOpts}
}

// stateStore is the migration's state topic on the target.
type stateStore struct {
	cl    *kgo.Client
	adm   *kadm.Client
	topic string
	opts  []kgo.Opt // for the state reader
	// missing is set while the state topic did not exist at the last
	// Load: cl then remembers the topic as unknown and would not look
	// again for its metadata minimum age (5s), so Load asks with a fresh
	// client until the topic shows up.
	missing atomic.Bool
}

// Load reads the state topic; a migration whose mirror never ran has an
// empty snapshot (nothing promoted, nothing copied).
func (s *stateStore) Load(ctx context.Context) (*state.Snapshot, error) {
	adm := s.adm
	if s.missing.Load() {
		cl, err := kgo.NewClient(s.opts...)
		if err != nil {
			return nil, fmt.Errorf("state reader: %w", err)
		}
		defer cl.Close()
		adm = kadm.NewClient(cl)
	}
	snap, err := state.Load(ctx, adm, s.topic, s.opts)
	s.missing.Store(errors.Is(err, state.ErrNoState))
	if errors.Is(err, state.ErrNoState) {
		return &state.Snapshot{Promoted: map[string]state.Promoted{}, Checkpoints: map[state.TopicPartition]state.Checkpoint{}}, nil
	}
	return snap, err
}

// Promote records the promotion of topic and an event with the pause.
func (s *stateStore) Promote(ctx context.Context, topic string, pause time.Duration) error {
	now := time.Now()
	p, err := state.PromotedRecord(s.topic, state.Promoted{Topic: topic, Time: now})
	if err != nil {
		return err
	}
	e, err := state.EventRecord(s.topic, state.Event{
		Time: now, Action: "promote",
		Detail: fmt.Sprintf("%s through the gateway; writes paused %s", topic, pause.Round(time.Millisecond)),
	})
	if err != nil {
		return err
	}
	return state.Write(ctx, s.cl, p, e)
}
