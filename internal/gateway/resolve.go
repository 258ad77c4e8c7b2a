package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

// ErrNoMirror: the migration has no state on the target yet, so the
// gateway does not know its topics (run kmigrate mirror first).
var ErrNoMirror = errors.New("the migration has no state on the target: start kmigrate mirror first")

// Resolve finds what a gateway for cfg serves: the migration's name (the
// spec's, else the default for the two cluster ids) and its topics, as
// the mirror recorded them in the state (source and target names).
func Resolve(ctx context.Context, cfg *config.Config, log *slog.Logger) (string, []Topic, error) {
	name := cfg.Name
	tgt, err := cluster.NewClient(&cfg.Target, log)
	if err != nil {
		return "", nil, fmt.Errorf("gateway: target client: %w", err)
	}
	defer tgt.Close()
	tadm := kadm.NewClient(tgt)
	if name == "" {
		src, err := cluster.NewClient(&cfg.Source, log)
		if err != nil {
			return "", nil, fmt.Errorf("gateway: source client: %w", err)
		}
		defer src.Close()
		sid, err := clusterID(ctx, kadm.NewClient(src))
		if err != nil {
			return "", nil, fmt.Errorf("gateway: source: %w", err)
		}
		tid, err := clusterID(ctx, tadm)
		if err != nil {
			return "", nil, fmt.Errorf("gateway: target: %w", err)
		}
		name = migration.DefaultName(sid, tid)
	}
	opts, err := cluster.Opts(&cfg.Target, nil)
	if err != nil {
		return "", nil, err
	}
	snap, err := state.Load(ctx, tadm, state.TopicName(name), opts)
	switch {
	case errors.Is(err, state.ErrNoState):
		return "", nil, fmt.Errorf("gateway: migration %s: %w", name, ErrNoMirror)
	case err != nil:
		return "", nil, fmt.Errorf("gateway: migration %s: %w", name, err)
	case snap.Meta == nil || len(snap.Meta.Topics) == 0:
		return "", nil, fmt.Errorf("gateway: migration %s records no topic: %w", name, ErrNoMirror)
	}
	var topics []Topic
	for src, dst := range snap.Meta.Topics {
		topics = append(topics, Topic{Source: src, Target: dst})
	}
	slices.SortFunc(topics, func(a, b Topic) int { return strings.Compare(a.Source, b.Source) })
	return name, topics, nil
}

func clusterID(ctx context.Context, adm *kadm.Client) (string, error) {
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return "", err
	}
	return md.Cluster, nil
}
