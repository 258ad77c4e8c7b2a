// Package membership divides a migration's work units among the kmigrate
// mirror processes running it, through Kafka's own group protocol on the
// TARGET cluster: kmigrate runs no coordinator of its own, and never
// writes to the source.
//
// Every process of a migration joins one consumer group whose one topic,
// the units topic (Topic: the state topic's name with "-units"), has one
// partition per unit. It never holds a record: the group coordinator
// assigns its partitions with the cooperative-sticky balancer, and the
// partitions a member is assigned are the units it copies. A process that
// joins, leaves (Close sends LeaveGroup) or dies (its session times out)
// causes a rebalance; the cooperative protocol revokes only the units that
// move, and a unit's new owner fences the old one through the unit's
// transactional id before it reads the unit's state (package mirror), so
// a member that was paused past its session timeout and resumes cannot
// commit anything for a unit it lost.
//
// Revoked must not return before the unit has stopped: the coordinator
// hands the unit to another member only once every member has answered
// the rebalance (or timed out), so a clean move never runs two owners at
// once, and a dirty one (a member gone silent) is settled by fencing.
package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
)

// Topic is the units topic of a migration whose state topic is
// stateTopic. It starts with "__" like the state topic, so topic
// selection never mirrors it.
func Topic(stateTopic string) string { return stateTopic + "-units" }

// Group is the consumer group of a migration's mirror processes on the
// target.
func Group(transactionalID string) string { return transactionalID + "-units" }

// ErrUnitsTopic: the units topic exists with another partition count than
// the migration's units.
var ErrUnitsTopic = errors.New("units topic does not match the migration")

// Ensure creates the units topic with one partition per unit, or checks
// the one that exists. rf is its replication factor, -1 for the
// cluster's default.
func Ensure(ctx context.Context, adm *kadm.Client, topic string, units int, rf int16) error {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return fmt.Errorf("units topic %s: %w", topic, err)
	}
	if td, ok := md.Topics[topic]; ok && td.Err == nil {
		if len(td.Partitions) != units {
			return fmt.Errorf("%w: %s has %d partitions, the migration %d units: delete the topic (it holds no data) and run again", ErrUnitsTopic, topic, len(td.Partitions), units)
		}
		return nil
	}
	resp, err := adm.CreateTopic(ctx, int32(units), rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
		return nil // created, or by another member just now
	}
	return fmt.Errorf("create units topic %s: %w", topic, err)
}

// Options configure Join. Every field but Logger and SessionTimeout is
// required.
type Options struct {
	// Target is the target cluster; TargetOpts extra franz-go options for
	// its clients.
	Target     *config.Cluster
	TargetOpts []kgo.Opt
	Logger     *slog.Logger
	// Group and Topic are the migration's group and units topic.
	Group, Topic string
	// SessionTimeout is how long a silent member keeps its units
	// (franz-go's default, 45s, when 0).
	SessionTimeout time.Duration
	// Assigned starts the units given; it must not block for long.
	Assigned func(ctx context.Context, units []int)
	// Revoked stops the units given and returns once they have stopped
	// (their last commits done). It is also called for units lost when
	// this member's session ended, and for every unit when Join returns.
	Revoked func(ctx context.Context, units []int)
}

// Join makes this process a member of the migration's group until ctx
// ends, then leaves the group (after Revoked for its units).
func Join(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger.With("group", o.Group)
	unitsOf := func(m map[string][]int32) []int {
		var out []int
		for _, p := range m[o.Topic] {
			out = append(out, int(p))
		}
		slices.Sort(out)
		return out
	}
	revoke := func(what string) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			if us := unitsOf(m); len(us) > 0 {
				log.Info("work units "+what, "units", us)
				o.Revoked(ctx, us)
			}
		}
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(o.Group),
		kgo.ConsumeTopics(o.Topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			if us := unitsOf(m); len(us) > 0 {
				log.Info("work units assigned", "units", us)
				o.Assigned(ctx, us)
			}
		}),
		kgo.OnPartitionsRevoked(revoke("revoked")),
		kgo.OnPartitionsLost(revoke("lost")),
	}
	if o.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(o.SessionTimeout), kgo.HeartbeatInterval(o.SessionTimeout/10))
	}
	cl, err := cluster.NewClient(o.Target, o.Logger, append(slices.Clone(o.TargetOpts), opts...)...)
	if err != nil {
		return fmt.Errorf("join group %s: %w", o.Group, err)
	}
	defer cl.Close() // leaves the group: Revoked runs for every unit held
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fs.IsClientClosed() {
			return errors.New("units group client closed")
		}
		failed := false
		fs.EachError(func(t string, p int32, err error) {
			failed = true
			log.Warn("units group", "topic", t, "partition", p, "err", err)
		})
		if failed {
			select { // the client retries; do not spin on its errors
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}
