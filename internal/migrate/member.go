package migrate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/kmigrate/kmigrate/internal/membership"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/state"
)

// A continuous mirror of more than one work unit is a member of the
// migration's units group on the target (package membership): it copies
// the units the group assigns it, and the member that owns unit 0 does the
// once-per-migration work (topic creation and sync, group offset sync).
// Every member watches promotions itself: each must stop copying a
// promoted topic in its own units.

// runMember copies the units the group gives this process until runCtx
// ends or a unit fails for a reason other than losing its unit to another
// member (fenced); leader work runs under syncCtx while unit 0 is ours.
func (r *Runner) runMember(runCtx, syncCtx context.Context, n int) error {
	cfg := r.h.Config()
	topic := membership.Topic(r.h.StateTopic())
	if err := membership.Ensure(runCtx, r.h.TargetAdmin(), topic, n, stateRF(cfg.Topics.ReplicationFactor)); err != nil {
		return err
	}
	r.member.Store(true)
	defer r.member.Store(false)
	failed := make(chan error, 1)
	exited := func(err error) {
		switch {
		case err == nil:
		case errors.Is(err, mirror.ErrFenced):
			// Another member owns the unit now: the group revokes it
			// from this one (or has already).
			r.log.Warn("work unit fenced by another member", "err", err)
		default:
			select {
			case failed <- err:
			default:
			}
		}
	}
	joinCtx, leave := context.WithCancel(runCtx)
	defer leave()
	joined := make(chan error, 1)
	go func() {
		joined <- membership.Join(joinCtx, membership.Options{
			Target: &cfg.Target, TargetOpts: r.h.TargetOpts(), Logger: r.log,
			Group: membership.Group(state.TransactionalID(r.h.Name())), Topic: topic, SessionTimeout: r.opts.SessionTimeout,
			Assigned: func(_ context.Context, us []int) {
				for _, u := range us {
					if err := r.m.Start(runCtx, u, exited); err != nil {
						exited(err)
					}
				}
				if slices.Contains(us, 0) {
					r.startLeader(syncCtx)
				}
			},
			Revoked: func(_ context.Context, us []int) {
				if slices.Contains(us, 0) {
					r.endLeader()
				}
				_ = r.m.Stop(us...) // their errors were reported to exited
			},
		})
	}()
	var err error
	select {
	case err = <-joined:
	case err = <-failed:
		leave()
		<-joined
	}
	r.endLeader()
	r.m.StopAll()
	return err
}

// startLeader starts the once-per-migration work: the topic sync, the ACL
// sync and the consumer group offset sync. It does nothing when it runs already.
func (r *Runner) startLeader(ctx context.Context) {
	r.leaderMu.Lock()
	defer r.leaderMu.Unlock()
	if r.stopLeader != nil {
		return
	}
	// The two leader lines, with this process's id, are how an operator
	// (and the real-Kafka lane) sees that one member at a time does the
	// once-per-migration work.
	r.log.Info("leader work started", "pid", os.Getpid())
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.syncLoop(ctx) })
	wg.Go(func() { r.runACLSync(ctx) })
	if r.syncer != nil {
		g := r.h.Config().Groups
		r.log.Info("syncing consumer group offsets to the target", "interval", g.SyncInterval, "groups", g.Selection.String())
		wg.Go(func() { r.syncer.Run(ctx) })
	}
	r.stopLeader = func() {
		cancel()
		wg.Wait()
	}
}

// endLeader stops the once-per-migration work and waits for it.
func (r *Runner) endLeader() {
	r.leaderMu.Lock()
	stop := r.stopLeader
	r.stopLeader = nil
	r.leaderMu.Unlock()
	if stop != nil {
		stop()
		r.log.Info("leader work stopped", "pid", os.Getpid())
	}
}

// Leader reports whether this process does the once-per-migration work
// now (always, while a migration of one unit runs).
func (r *Runner) Leader() bool {
	r.leaderMu.Lock()
	defer r.leaderMu.Unlock()
	return r.stopLeader != nil
}

// Owned returns the work units this process copies now, sorted.
func (r *Runner) Owned() []int { return r.m.Running() }

// follow keeps a member that is not the leader copying what the leader
// adds: the topics the migration's meta lists (the leader's unit 0 writes
// them once it copies a new topic) less the promoted ones, and the
// partitions both clusters have (the leader adds them to the target). A
// changed topic list or partition count restarts the units' sessions. It
// reports whether every topic is promoted.
func (r *Runner) follow(ctx context.Context, snap *state.Snapshot) (allPromoted bool) {
	if snap.Meta == nil || len(snap.Meta.Topics) == 0 {
		return false
	}
	promoted := r.promoted()
	var want []mirror.Topic
	for src, tgt := range snap.Meta.Topics {
		if !promoted[src] {
			want = append(want, mirror.Topic{Source: src, Target: tgt})
		}
	}
	if len(want) == 0 {
		return true
	}
	bySource := func(a, b mirror.Topic) int { return strings.Compare(a.Source, b.Source) }
	slices.SortFunc(want, bySource)
	have := r.m.Topics()
	slices.SortFunc(have, bySource)
	if !slices.Equal(want, have) {
		r.log.Info("following the topics the leader mirrors", "topics", len(want))
		r.followed = nil
		r.m.SetTopics(want)
		return false
	}
	counts, err := r.partitionCounts(ctx, want)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("could not read partition counts; retrying", "err", err)
		}
		return false
	}
	if r.followed != nil && !maps.Equal(counts, r.followed) {
		r.log.Info("following partitions the leader added")
		r.m.Reload()
	}
	r.followed = counts
	return false
}

// partitionCounts returns, per source topic, the partitions both the
// source topic and its target have.
func (r *Runner) partitionCounts(ctx context.Context, ts []mirror.Topic) (map[string]int, error) {
	var srcs, tgts []string
	for _, t := range ts {
		srcs, tgts = append(srcs, t.Source), append(tgts, t.Target)
	}
	smd, err := r.h.SourceAdmin().Metadata(ctx, srcs...)
	if err != nil {
		return nil, fmt.Errorf("source metadata: %w", err)
	}
	tmd, err := r.h.TargetAdmin().Metadata(ctx, tgts...)
	if err != nil {
		return nil, fmt.Errorf("target metadata: %w", err)
	}
	out := map[string]int{}
	for _, t := range ts {
		out[t.Source] = min(len(smd.Topics[t.Source].Partitions), len(tmd.Topics[t.Target].Partitions))
	}
	return out, nil
}
