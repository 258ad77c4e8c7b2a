package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Ensure creates the state topic if it does not exist: one partition,
// compacted, with replication factor rf (-1 for the cluster default). It
// returns whether it created the topic.
func Ensure(ctx context.Context, adm *kadm.Client, topic string, rf int16) (bool, error) {
	cfg := map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"),
		// Checkpoints of a quiet partition must not be compacted away
		// with their segment; compaction keeps the newest per key, and a
		// long retention keeps nothing else from deleting them.
		"retention.ms": kadm.StringPtr("-1"),
		// Compaction never touches the active segment: roll it hourly so
		// that the superseded checkpoints and heartbeats of a long
		// migration are cleaned, and every reader of the state (group
		// sync, status) reads a topic about the size of its keys.
		"segment.ms": kadm.StringPtr("3600000"),
	}
	resp, err := adm.CreateTopic(ctx, 1, rf, cfg, topic)
	switch {
	case err == nil && resp.Err == nil:
		return true, nil
	case errors.Is(err, kerr.TopicAlreadyExists) || errors.Is(resp.Err, kerr.TopicAlreadyExists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create state topic %s: %w", topic, err)
	default:
		return false, fmt.Errorf("create state topic %s: %w", topic, resp.Err)
	}
}
