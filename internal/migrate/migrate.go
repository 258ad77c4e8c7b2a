// Package migrate runs a migration's mirroring from start to end: it
// creates the target topics the plan calls for, runs the mirror, and, while
// mirroring continuously, keeps the target in step with the source (topics
// that appear, partitions added, configs changed), syncs consumer group
// offsets, and stops copying topics as they are promoted.
//
// A Runner is built from an open migration (migration.Handle) with
// everything it needs, then Run; its Stats, Plan and GroupSync can be read
// while it runs (metrics, status, progress).
package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/preflight"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/topics"
	"github.com/kmigrate/kmigrate/internal/units"
)

// ErrBlocked is returned, wrapped, when the migration has problems that
// block it; nothing was written.
var ErrBlocked = errors.New("migration blocked")

// DefaultPromotionCheck is how often a continuous mirror checks the state
// for newly promoted topics.
const DefaultPromotionCheck = 2 * time.Second

// Options tune a Runner; the zero value is what kmigrate mirror uses.
type Options struct {
	// PromotionCheck is how often a continuous run re-reads the promoted
	// topics (DefaultPromotionCheck when 0).
	PromotionCheck time.Duration
	// Units is the number of work units to divide a new migration into
	// (--units; mirror.Pool.Settle): 0 keeps the count the state records,
	// or NewUnits for a new migration; a migration of one unit asked for
	// more moves to units. A bounded copy runs every unit in this process;
	// a continuous mirror of more than one unit shares them with the
	// migration's other processes (member.go).
	Units int
	// NewUnits is the unit count of a new migration when Units is 0:
	// units.Default for this machine's cores and the memory budget when 0.
	// A migration whose state exists keeps its count (an existing
	// one-unit migration stays one unit).
	NewUnits int
	// SessionTimeout is the units group's session timeout (member.go),
	// franz-go's default (45s) when 0.
	SessionTimeout time.Duration
	// ProtectTarget denies writes to the target topics until they are
	// promoted (--protect-target; protect.go).
	ProtectTarget bool
	// NoACLSync turns the ACL sync off (mirror --acls off; acls.go);
	// ACLSyncInterval is its interval (acls.DefaultSyncInterval when 0).
	NoACLSync       bool
	ACLSyncInterval time.Duration
}

func (o *Options) defaults() {
	if o.PromotionCheck <= 0 {
		o.PromotionCheck = DefaultPromotionCheck
	}
}

// Runner runs one migration's mirroring; see the package doc.
type Runner struct {
	h      *migration.Handle
	log    *slog.Logger
	opts   Options
	m      *mirror.Pool
	syncer *groups.Syncer // nil unless continuous with group sync on
	acls   *acls.Syncer   // nil with Options.NoACLSync

	// planMu guards plan: the topic sync replaces it while the promotion
	// watcher and callers read it.
	planMu sync.Mutex
	plan   *topics.Plan
	// promotedNow is the set of promoted topics last read by the running
	// watcher; nil before (the handle's opened state's then).
	promotedNow atomic.Pointer[map[string]bool]

	// leaderMu guards stopLeader, set while this process does the
	// once-per-migration work (member.go).
	leaderMu   sync.Mutex
	stopLeader func()
	// member is set while Run shares units with other processes;
	// followed are the partition counts follow last saw (read and written
	// by the promotion watcher only).
	member   atomic.Bool
	followed map[string]int
}

// New plans the migration's topics (reading both clusters, writing
// neither) and builds its mirror. The handle must outlive the Runner.
func New(ctx context.Context, h *migration.Handle, opts Options) (*Runner, error) {
	opts.defaults()
	cfg := h.Config()
	if opts.NewUnits == 0 {
		opts.NewUnits = units.Default(runtime.GOMAXPROCS(0), cfg.Mirror.MemoryBudget-config.RuntimeOverhead)
	}
	plan, err := h.PlanTopics(ctx)
	if err != nil {
		return nil, err
	}
	r := &Runner{h: h, log: h.Logger(), opts: opts, plan: plan}
	r.m, err = mirror.NewPool(mirror.Options{
		Name: h.Name(), Source: &cfg.Source, Target: &cfg.Target,
		SourceID: h.SourceID(), TargetID: h.TargetID(),
		Topics: r.mirrorTopics(plan.Mappings()), Groups: cfg.Groups.Selection,
		Settings: cfg.Mirror, StateReplicationFactor: stateRF(cfg.Topics.ReplicationFactor),
		Logger: r.log, SourceOpts: h.SourceOpts(), TargetOpts: h.TargetOpts(),
	})
	if err != nil {
		return nil, err
	}
	if g := cfg.Groups; cfg.Mirror.Until != config.UntilEnd && g.Sync {
		if r.syncer, err = groups.NewSyncer(h, g.Selection, g.SyncInterval); err != nil {
			return nil, err
		}
	}
	if !opts.NoACLSync {
		r.acls = acls.NewSyncer(h, opts.ACLSyncInterval)
	}
	return r, nil
}

// LimitMemory sets the Go runtime's memory limit for a process that runs a
// mirror with this budget: the budget bounds what kmigrate buffers, and
// the limit makes the garbage collector keep the heap under it, less what
// the binary's own pages take. It is process-wide: the binary calls it,
// tests do not.
func LimitMemory(m config.Mirror) { debug.SetMemoryLimit(m.MemoryBudget - 16<<20) }

// Plan is the current topic plan (replaced, not changed, by the topic
// sync).
func (r *Runner) Plan() *topics.Plan {
	r.planMu.Lock()
	defer r.planMu.Unlock()
	return r.plan
}

// Problems returns what blocks the migration, each with what to do.
func (r *Runner) Problems() []string { return r.h.Problems(r.Plan()) }

// Stats is the mirror's progress (every unit's, merged), readable while it
// runs.
func (r *Runner) Stats() mirror.Stats { return r.m.Stats() }

// GroupSync is the consumer group Syncer of a continuous run, nil when
// group sync is off or the copy is bounded.
func (r *Runner) GroupSync() *groups.Syncer { return r.syncer }

// Run creates the target topics and mirrors until the copy is done (a
// bounded copy), every topic is promoted, or ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	if len(r.Problems()) > 0 {
		// Another process of this migration may have claimed and created
		// a topic since this one planned: read the state and plan again
		// once before refusing (reads only).
		if _, p, err := r.planAgain(ctx); err != nil {
			return err
		} else if len(p) > 0 {
			return fmt.Errorf("%w; nothing was written:\n- %s", ErrBlocked, strings.Join(p, "\n- "))
		}
	}
	cfg := r.h.Config()
	plan := r.Plan()
	tgtAdm := r.h.TargetAdmin()
	// Refuse credentials that may not use the transactional id before
	// anything is written (the mirror would fail only after creating the
	// topics).
	if cfg.Mirror.Guarantee == config.ExactlyOnce {
		for _, id := range r.transactionalIDs() {
			if err := preflight.TransactionalID(ctx, r.h.Target(), id); err != nil {
				return fmt.Errorf("%w; nothing was written: %w", ErrBlocked, err)
			}
		}
	}
	if r.opts.ProtectTarget {
		// Before anything is copied: an application writing to the
		// target by mistake must fail from the first record on.
		if err := r.protect(ctx); err != nil {
			return fmt.Errorf("%w; nothing was copied: %w", ErrBlocked, err)
		}
	}

	n, err := r.m.Settle(ctx, r.opts.Units, r.opts.NewUnits)
	if err != nil {
		if errors.Is(err, mirror.ErrUnits) {
			return fmt.Errorf("%w; nothing was written: %w", ErrBlocked, err)
		}
		return err
	}
	if n > 1 {
		r.log.Info("mirroring in work units", "units", n)
	}
	if plan, err = r.applyTopics(ctx, plan, n); err != nil {
		return err
	}
	// A resumed topic's configs may have changed on the source since the
	// last run; bring them over before copying. Topics Apply just created
	// got the source's configs at creation; asking for their configs at
	// once can reach a broker that does not know them yet
	// (UNKNOWN_TOPIC_OR_PARTITION on a multi-broker target).
	var existed []topics.Mapping
	for _, t := range plan.Topics {
		if t.Action == topics.Resume || t.Action == topics.Reuse {
			existed = append(existed, topics.Mapping{Source: t.Source, Target: t.Target})
		}
	}
	changed, err := topics.SyncConfigs(ctx, r.h.SourceAdmin(), tgtAdm, cfg.Topics, existed)
	if err != nil {
		return fmt.Errorf("sync topic configs: %w", err)
	}
	for _, c := range changed {
		r.log.Info("copied topic config change", "change", fmt.Sprint(c))
	}
	if len(plan.Mappings()) > 0 && len(r.mirrorTopics(plan.Mappings())) == 0 {
		r.log.Info("every topic of the migration is promoted: there is nothing left to mirror")
		return nil
	}
	if cfg.Mirror.Until == config.UntilEnd {
		if err := r.syncACLsOnce(ctx); err != nil {
			return fmt.Errorf("%w; nothing was copied: %w", ErrBlocked, err)
		}
		return r.m.Run(ctx, units.All(n))
	}
	syncCtx, stopSync := context.WithCancel(ctx)
	// The mirror stops by itself, committing, once every topic is
	// promoted.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var wg sync.WaitGroup
	defer func() {
		stopSync()
		wg.Wait()
	}()
	wg.Go(func() { r.watchPromotions(syncCtx, stopRun) })
	if n > 1 {
		return r.runMember(runCtx, syncCtx, n)
	}
	r.startLeader(syncCtx)
	defer r.endLeader()
	return r.m.Run(runCtx, units.All(n))
}

// applyTopics claims plan's new target topics in the migration's state,
// then creates or aligns them (topics.Apply), and returns the plan it
// applied. Processes of one migration started at once (a Deployment's
// replicas) plan at once, so one can find a topic that another has just
// claimed and created (topics.ErrAppeared), or see it both absent and
// impossible to create while the other creates it: it reads the state
// again, where the other's claim now is, plans again (the topic is the
// migration's own, to resume) and applies that plan. A conflict that is
// not such a race stays after the retries and blocks the run.
func (r *Runner) applyTopics(ctx context.Context, plan *topics.Plan, n int) (*topics.Plan, error) {
	const attempts = 5
	// Every path of the last attempt returns.
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if attempt > 2 { // a re-plan that still saw the race: give the other member time
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(time.Duration(attempt-2) * 200 * time.Millisecond):
				}
			}
			again, problems, err := r.planAgain(ctx)
			if err != nil {
				return nil, err
			}
			if len(problems) > 0 {
				if attempt == attempts {
					return nil, fmt.Errorf("%w; nothing was copied:\n- %s", ErrBlocked, strings.Join(problems, "\n- "))
				}
				continue
			}
			plan = again
		}
		if err := r.claim(ctx, plan, n); err != nil {
			return nil, err
		}
		applied, err := topics.Apply(ctx, r.h.TargetAdmin(), plan)
		for _, a := range applied {
			if a.Err == nil && a.Action == topics.Create {
				r.log.Info("created target topic", "source", a.Source, "target", a.Target, "partitions", a.Partitions)
			}
		}
		if err == nil {
			return plan, nil
		}
		if !errors.Is(err, topics.ErrAppeared) || attempt == attempts {
			return nil, fmt.Errorf("prepare target topics: %w", err)
		}
		r.log.Info("a target topic appeared since the plan was made: reading the migration state and planning again", "err", err)
	}
}

// planAgain reads the migration's state again and plans its topics from
// it (reading both clusters, writing neither); the new plan replaces the
// Runner's and is returned with what blocks it.
func (r *Runner) planAgain(ctx context.Context) (*topics.Plan, []string, error) {
	if err := r.h.Reload(ctx); err != nil {
		return nil, nil, err
	}
	plan, err := r.h.PlanTopics(ctx)
	if err != nil {
		return nil, nil, err
	}
	r.planMu.Lock()
	r.plan = plan
	r.planMu.Unlock()
	return plan, r.h.Problems(plan), nil
}

// claim records in the migration's state the target topics the plan is
// about to create or take over, before it does: a run killed between the
// creation and the mirror's first commit must find them claimed, or the
// next run would refuse them as someone else's (an empty topic it did not
// create). The mirror merges its own meta with it. The meta keeps the
// settled unit count n.
func (r *Runner) claim(ctx context.Context, plan *topics.Plan, n int) error {
	meta := state.Meta{
		Migration: r.h.Name(), SourceClusterID: r.h.SourceID(), TargetClusterID: r.h.TargetID(),
		Created: time.Now().UTC(), Guarantee: string(r.h.Config().Mirror.Guarantee),
		TracingHeaders: r.h.Config().Mirror.TracingHeaders, Topics: map[string]string{},
	}
	if m := r.h.Meta(); m != nil {
		meta = *m
		meta.Topics = maps.Clone(m.Topics)
	}
	if n > 1 {
		meta.Units = n
	}
	fresh := false
	for _, t := range plan.Topics {
		if t.Action != topics.Create && t.Action != topics.Reuse {
			continue
		}
		if meta.Topics[t.Source] != t.Target {
			meta.Topics[t.Source], fresh = t.Target, true
		}
	}
	if !fresh {
		return nil
	}
	if _, err := state.Ensure(ctx, r.h.TargetAdmin(), r.h.StateTopic(), stateRF(r.h.Config().Topics.ReplicationFactor)); err != nil {
		return err
	}
	rec, err := state.MetaRecord(r.h.StateTopic(), meta)
	if err != nil {
		return err
	}
	if err := state.Write(ctx, r.h.Target(), rec); err != nil {
		return fmt.Errorf("claim the target topics in the migration state: %w", err)
	}
	return nil
}

// transactionalIDs are the transactional ids the run will use, as far as
// can be told before Settle: the migration's own (which Settle initialises
// when it moves a one-unit migration to units) and, when the run will be
// in units, unit 0's (the others differ only in the number, which a
// PREFIXED grant covers and a LITERAL one for unit 0 alone would not; the
// unit's session then fails with the same advice).
func (r *Runner) transactionalIDs() []string {
	ids := []string{state.TransactionalID(r.h.Name())}
	n := r.opts.Units
	if n == 0 {
		n = r.opts.NewUnits
		if m := r.h.Meta(); m != nil {
			n = m.Units
		}
	}
	if n > 1 {
		ids = append(ids, state.UnitTransactionalID(r.h.Name(), 0, n))
	}
	return ids
}

func stateRF(rf int16) int16 {
	if rf <= 0 {
		return -1
	}
	return rf
}

// mirrorTopics returns the topics to copy: the mappings less the promoted
// topics, whose mirroring has stopped for good.
func (r *Runner) mirrorTopics(ms []topics.Mapping) []mirror.Topic {
	promoted := r.promoted()
	out := make([]mirror.Topic, 0, len(ms))
	for _, m := range ms {
		if !promoted[m.Source] {
			out = append(out, mirror.Topic{Source: m.Source, Target: m.Target})
		}
	}
	return out
}

// promoted returns the promoted source topics as last read from the state.
func (r *Runner) promoted() map[string]bool {
	out := map[string]bool{}
	if p := r.promotedNow.Load(); p != nil {
		for t := range *p {
			out[t] = true
		}
		return out
	}
	if snap := r.h.Opened(); snap != nil {
		for t := range snap.Promoted {
			out[t] = true
		}
	}
	return out
}

// watchPromotions re-reads the promoted topics every interval and, when
// one was promoted since, makes the mirror stop copying it: the session
// commits what it copied (a final checkpoint) and the next one leaves the
// topic out.
func (r *Runner) watchPromotions(ctx context.Context, allDone func()) {
	t := time.NewTicker(r.opts.PromotionCheck)
	defer t.Stop()
	guardsStale := false // a release failed: retry every check
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		snap, err := r.h.LoadState(ctx)
		switch {
		case errors.Is(err, state.ErrNoState):
			continue // the mirror is creating it
		case err != nil:
			if ctx.Err() == nil {
				r.log.Warn("could not read promoted topics; retrying", "err", err)
			}
			continue
		}
		before := r.promoted()
		now := map[string]bool{}
		for t := range snap.Promoted {
			now[t] = true
		}
		r.promotedNow.Store(&now)
		if r.member.Load() && !r.Leader() {
			if r.follow(ctx, snap) {
				r.log.Info("every topic of the migration is promoted: mirroring is done")
				allDone()
				return
			}
			continue
		}
		changed := false
		for t := range now {
			if !before[t] {
				changed = true
				r.log.Info("topic promoted: mirroring of it stops", "topic", t)
			}
		}
		if r.opts.ProtectTarget && (changed || guardsStale) {
			err := r.protect(ctx)
			guardsStale = err != nil
			if err != nil && ctx.Err() == nil {
				r.log.Warn("could not release the write guards of promoted topics; retrying at the next promotion check", "err", err)
			}
		}
		if !changed {
			continue
		}
		left := r.mirrorTopics(r.Plan().Mappings())
		if len(left) == 0 {
			r.log.Info("every topic of the migration is promoted: mirroring is done")
			allDone()
			return
		}
		r.m.SetTopics(left)
	}
}

// syncLoop keeps the target in step with the source while mirroring
// continuously: new selected topics are created and mirrored, partitions
// added to the source are added to the target, config changes copied.
func (r *Runner) syncLoop(ctx context.Context) {
	interval := r.h.Config().Topics.SyncInterval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.syncOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("topic sync failed; retrying at the next interval", "err", err)
		}
	}
}

func (r *Runner) syncOnce(ctx context.Context) error {
	srcAdm, tgtAdm := r.h.SourceAdmin(), r.h.TargetAdmin()
	cfg := r.h.Config()
	known := map[string]string{}
	for _, t := range r.Plan().Mappings() {
		known[t.Source] = t.Target
	}
	// A member that became the leader copies topics its plan predates
	// (follow, member.go): they are the migration's too.
	for _, t := range r.m.Topics() {
		known[t.Source] = t.Target
	}
	owned := func(target string) bool {
		return slices.Contains(slices.Collect(maps.Values(known)), target) || r.h.Owned(target)
	}
	plan, err := topics.Inspect(ctx, srcAdm, tgtAdm, cfg.Topics, owned)
	if err != nil {
		return err
	}
	for _, c := range plan.Conflicts() {
		r.log.Error("new source topic cannot be mirrored", "conflict", c)
	}
	var fresh []topics.Topic
	for _, t := range plan.Topics {
		if _, ok := known[t.Source]; !ok && t.Action != topics.Conflict {
			fresh = append(fresh, t)
		}
	}
	if len(fresh) > 0 {
		sub := *plan
		sub.Topics = fresh
		if _, err := topics.Apply(ctx, tgtAdm, &sub); err != nil {
			return err
		}
		for _, t := range fresh {
			r.log.Info("mirroring new source topic", "source", t.Source, "target", t.Target, "partitions", t.Partitions)
		}
	}
	// Promoted topics are the target's own now: partitions and configs no
	// longer follow the source.
	promoted := r.promoted()
	ms := slices.DeleteFunc(plan.Mappings(), func(m topics.Mapping) bool { return promoted[m.Source] })
	added, err := topics.SyncPartitions(ctx, srcAdm, tgtAdm, ms)
	if err != nil {
		return err
	}
	for _, a := range added {
		r.log.Info("added partitions to target topic", "topic", fmt.Sprint(a))
	}
	changed, err := topics.SyncConfigs(ctx, srcAdm, tgtAdm, cfg.Topics, ms)
	if err != nil {
		return err
	}
	for _, c := range changed {
		r.log.Info("copied topic config change", "change", fmt.Sprint(c))
	}
	r.planMu.Lock()
	r.plan = plan
	r.planMu.Unlock()
	if len(fresh) > 0 {
		r.m.SetTopics(r.mirrorTopics(ms))
	} else if len(added) > 0 {
		r.m.Reload()
	}
	return nil
}
