// Package migrate runs a migration's mirroring from start to end: it
// identifies both clusters, names the migration, plans the target topics
// and refuses conflicts before anything is written, creates the topics,
// runs the mirror, and, while mirroring continuously, keeps the target in
// step with the source (topics that appear, partitions added, configs
// changed).
//
// It is the glue between config, cluster, topics, state and mirror; the
// commands only parse flags and print.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/preflight"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/status"
	"github.com/kmigrate/kmigrate/internal/topics"
)

// ErrBlocked is returned, wrapped, when the setup has problems that block
// the migration; nothing was written.
var ErrBlocked = errors.New("migration blocked")

// DefaultName is the migration name used when the spec gives none: stable
// for a pair of clusters, so that re-running the same command resumes and
// later commands with the same flags find the same state.
func DefaultName(sourceID, targetID string) string {
	sum := sha256.Sum256([]byte(sourceID + "\x00" + targetID))
	return "m-" + hex.EncodeToString(sum[:6])
}

// Setup is everything known about a migration before it writes anything.
type Setup struct {
	Config         *config.Config
	Name           string
	Source, Target *cluster.Info
	// Snapshot is the migration's state on the target and Meta its meta,
	// both nil before its first run.
	Snapshot *state.Snapshot
	Meta     *state.Meta
	// Plan is the topic plan; Open leaves it nil, Prepare fills it.
	Plan *topics.Plan
	// Reverse is the meta of the migration in the other direction, from
	// this target to this source, when this one mirrors back after it
	// (found in the source's state topics); nil otherwise.
	Reverse *state.Meta

	srcCl, tgtCl *kgo.Client
	syncer       atomic.Pointer[groups.Syncer]
	// planMu guards Plan once Run's goroutines run: the topic sync
	// replaces it, the promotion watcher reads it.
	planMu sync.Mutex
	// promotedNow is the set of promoted topics last read by the
	// running mirror's watcher; nil before (Snapshot's then).
	promotedNow atomic.Pointer[map[string]bool]
}

// Close releases the setup's clients.
func (s *Setup) Close() {
	for _, cl := range []*kgo.Client{s.srcCl, s.tgtCl} {
		if cl != nil {
			cl.Close()
		}
	}
}

// Prepare opens the migration (Open) and plans its topics, reading both
// clusters and writing neither. The caller closes the Setup.
func Prepare(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Setup, error) {
	s, err := Open(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if s.Plan, err = topics.Inspect(ctx, s.SourceAdmin(), s.TargetAdmin(), cfg.Topics, s.owned); err != nil {
		s.Close()
		return nil, fmt.Errorf("plan topics: %w", err)
	}
	return s, nil
}

// Open connects to both clusters, identifies them (refusing one cluster
// twice), names the migration and reads its state from the target, if it
// has any (refusing state that belongs to other clusters). It writes
// nothing. The caller closes the Setup.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger) (_ *Setup, err error) {
	logger = orDiscard(logger)
	s := &Setup{Config: cfg}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// A short metadata age: kadm caches what it learns for this long,
	// including "unknown topic" for a state topic that a starting mirror
	// creates a moment later (status, the promotion watcher and group sync
	// read it through these clients).
	if s.srcCl, err = cluster.Connect(ctx, &cfg.Source, logger, kgo.MetadataMinAge(time.Second)); err != nil {
		return nil, err
	}
	if s.tgtCl, err = cluster.Connect(ctx, &cfg.Target, logger, kgo.MetadataMinAge(time.Second)); err != nil {
		return nil, err
	}
	if s.Source, err = cluster.Probe(ctx, s.srcCl, &cfg.Source); err != nil {
		return nil, err
	}
	if s.Target, err = cluster.Probe(ctx, s.tgtCl, &cfg.Target); err != nil {
		return nil, err
	}
	if err := preflight.SameCluster(s.Source, s.Target); err != nil {
		return nil, err
	}
	s.Name = cfg.Name
	if s.Name == "" {
		s.Name = DefaultName(s.Source.ClusterID, s.Target.ClusterID)
	}
	snap, err := s.LoadState(ctx)
	switch {
	case errors.Is(err, state.ErrNoState):
	case err != nil:
		return nil, fmt.Errorf("read migration state: %w", err)
	default:
		s.Snapshot, s.Meta = snap, snap.Meta
	}
	if s.Meta != nil && (s.Meta.SourceClusterID != s.Source.ClusterID || s.Meta.TargetClusterID != s.Target.ClusterID) {
		return nil, fmt.Errorf("%w: state topic %s belongs to migration %q from cluster %s to %s: give this migration another name",
			mirror.ErrStateMismatch, state.TopicName(s.Name), s.Meta.Migration, s.Meta.SourceClusterID, s.Meta.TargetClusterID)
	}
	if s.Reverse, err = reverseOf(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// reverseOf finds, on the source, the state of a migration in the other
// direction (from this target to this source): mirroring back after a
// promotion. Its source topics, which hold the records it copied, are then
// this migration's to write to. nil when there is none.
func reverseOf(ctx context.Context, s *Setup) (*state.Meta, error) {
	adm := kadm.NewClient(s.srcCl)
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list source topics: %w", err)
	}
	topts, err := cluster.Opts(&s.Config.Source, nil)
	if err != nil {
		return nil, err
	}
	for _, name := range listed.Names() {
		if !strings.HasPrefix(name, state.TopicPrefix) {
			continue
		}
		snap, err := state.Load(ctx, adm, name, topts)
		if err != nil {
			return nil, fmt.Errorf("read state topic %s on the source: %w", name, err)
		}
		if m := snap.Meta; m != nil && m.SourceClusterID == s.Target.ClusterID && m.TargetClusterID == s.Source.ClusterID {
			return m, nil
		}
	}
	return nil, nil
}

// Clients returns the setup's connections to the source and the target,
// for readers that need raw clients (verify). The Setup owns them.
func (s *Setup) Clients() (src, tgt *kgo.Client) { return s.srcCl, s.tgtCl }

// SourceAdmin and TargetAdmin are admin clients on the setup's connections.
func (s *Setup) SourceAdmin() *kadm.Client { return kadm.NewClient(s.srcCl) }

// TargetAdmin: see SourceAdmin.
func (s *Setup) TargetAdmin() *kadm.Client { return kadm.NewClient(s.tgtCl) }

// LoadState reads the migration's state from the target again.
func (s *Setup) LoadState(ctx context.Context) (*state.Snapshot, error) {
	topts, err := cluster.Opts(&s.Config.Target, nil)
	if err != nil {
		return nil, err
	}
	snap, err := state.Load(ctx, kadm.NewClient(s.tgtCl), state.TopicName(s.Name), topts)
	if !errors.Is(err, state.ErrNoState) {
		return snap, err
	}
	// The client may remember the state topic as unknown from a read
	// before a mirror created it (for up to its metadata age): ask again
	// with a client that has no such memory.
	fresh, err := kgo.NewClient(s.tgtCl.Opts()...)
	if err != nil {
		return nil, fmt.Errorf("read migration state: %w", err)
	}
	defer fresh.Close()
	return state.Load(ctx, kadm.NewClient(fresh), state.TopicName(s.Name), topts)
}

// Groups returns what package groups needs to move this migration's
// consumer groups: both connections and its state.
func (s *Setup) Groups(logger *slog.Logger) groups.Clusters {
	return groups.Clusters{
		Source: s.srcCl, Target: s.tgtCl, SourceID: s.Source.ClusterID,
		State: s.LoadState, StateTopic: state.TopicName(s.Name), Logger: orDiscard(logger),
	}
}

// owned reports whether target is a topic this migration created.
func (s *Setup) owned(target string) bool {
	if s.Reverse != nil && s.Reverse.Topics[target] != "" {
		// The reverse migration copied this topic from here: mirroring
		// back into it is what rolling back after a promotion means.
		return true
	}
	if s.Meta == nil {
		return false
	}
	for _, t := range s.Meta.Topics {
		if t == target {
			return true
		}
	}
	return false
}

// Problems returns what blocks the migration, each with what to do.
func (s *Setup) Problems() []string {
	out := slices.Clone(s.Plan.Conflicts())
	if len(s.Plan.Mappings()) == 0 && len(s.Plan.Conflicts()) == 0 {
		out = append(out, "no source topic matches the topic selection: check --topics or topics.include")
	}
	if s.Config.Mirror.Guarantee == config.ExactlyOnce && !s.Target.Features.Transactions {
		out = append(out, "the target does not support transactions, which exactly-once mirroring needs: use --guarantee at-least-once")
	}
	return out
}

// Run creates the target topics and mirrors until the copy is done (a
// bounded copy) or ctx ends. started, if not nil, is called with the mirror
// before it runs, for progress and status.
func Run(ctx context.Context, s *Setup, logger *slog.Logger, started func(*mirror.Mirror)) error {
	logger = orDiscard(logger)
	if p := s.Problems(); len(p) > 0 {
		return fmt.Errorf("%w:\n%s", ErrBlocked, strings.Join(p, "\n"))
	}
	tgtAdm := kadm.NewClient(s.tgtCl)
	applied, err := topics.Apply(ctx, tgtAdm, s.Plan)
	for _, a := range applied {
		if a.Err == nil && a.Action == topics.Create {
			logger.Info("created target topic", "source", a.Source, "target", a.Target, "partitions", a.Partitions)
		}
	}
	if err != nil {
		return fmt.Errorf("prepare target topics: %w", err)
	}
	// A resumed topic's configs may have changed on the source since the
	// last run; bring them over before copying.
	changed, err := topics.SyncConfigs(ctx, kadm.NewClient(s.srcCl), tgtAdm, s.Config.Topics, s.Plan.Mappings())
	if err != nil {
		return fmt.Errorf("sync topic configs: %w", err)
	}
	for _, c := range changed {
		logger.Info("copied topic config change", "change", fmt.Sprint(c))
	}
	if len(s.Plan.Mappings()) > 0 && len(s.mirrorTopics(s.Plan.Mappings())) == 0 {
		logger.Info("every topic of the migration is promoted: there is nothing left to mirror")
		return nil
	}
	m, err := mirror.New(mirror.Options{
		Name: s.Name, Source: &s.Config.Source, Target: &s.Config.Target,
		SourceID: s.Source.ClusterID, TargetID: s.Target.ClusterID,
		Topics: s.mirrorTopics(s.Plan.Mappings()), Groups: s.Config.Groups.Selection,
		Settings: s.Config.Mirror, StateReplicationFactor: stateRF(s.Config.Topics.ReplicationFactor),
		Logger: logger,
	})
	if err != nil {
		return err
	}
	if started != nil {
		started(m)
	}
	if s.Config.Mirror.Until == config.UntilEnd {
		return m.Run(ctx)
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
	wg.Go(func() { s.syncLoop(syncCtx, m, logger) })
	wg.Go(func() { s.watchPromotions(syncCtx, m, PromotionCheck, stopRun, logger) })
	if g := s.Config.Groups; g.Sync {
		syncer, err := groups.NewSyncer(s.Groups(logger), g.Selection, g.SyncInterval)
		if err != nil {
			return err
		}
		s.syncer.Store(syncer)
		logger.Info("syncing consumer group offsets to the target", "interval", g.SyncInterval, "groups", g.Selection.String())
		wg.Go(func() { syncer.Run(syncCtx) })
	}
	return m.Run(runCtx)
}

// PromotionCheck is how often a continuous mirror checks the state for
// newly promoted topics.
var PromotionCheck = 2 * time.Second

// StatusInputs returns what package status (and cutover) needs.
func (s *Setup) StatusInputs() status.Inputs {
	return status.Inputs{Source: s.srcCl, Target: s.tgtCl, SourceID: s.Source.ClusterID,
		Groups: s.Config.Groups.Selection, State: s.LoadState}
}

// GroupSync returns the consumer group Syncer of a running continuous
// mirror, nil before it starts or when group sync is off.
func (s *Setup) GroupSync() *groups.Syncer { return s.syncer.Load() }

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func stateRF(rf int16) int16 {
	if rf <= 0 {
		return -1
	}
	return rf
}

// mirrorTopics returns the topics to copy: the mappings less the promoted
// topics, whose mirroring has stopped for good.
func (s *Setup) mirrorTopics(ms []topics.Mapping) []mirror.Topic {
	promoted := s.promoted()
	out := make([]mirror.Topic, 0, len(ms))
	for _, m := range ms {
		if !promoted[m.Source] {
			out = append(out, mirror.Topic{Source: m.Source, Target: m.Target})
		}
	}
	return out
}

// mappings returns the current plan's mappings.
func (s *Setup) mappings() []topics.Mapping {
	s.planMu.Lock()
	defer s.planMu.Unlock()
	return s.Plan.Mappings()
}

// promoted returns the promoted source topics as last read from the state.
func (s *Setup) promoted() map[string]bool {
	out := map[string]bool{}
	if p := s.promotedNow.Load(); p != nil {
		for t := range *p {
			out[t] = true
		}
		return out
	}
	if s.Snapshot != nil {
		for t := range s.Snapshot.Promoted {
			out[t] = true
		}
	}
	return out
}

// watchPromotions re-reads the promoted topics every interval and, when
// one was promoted since, makes the mirror stop copying it: the session
// commits what it copied (a final checkpoint) and the next one leaves the
// topic out.
func (s *Setup) watchPromotions(ctx context.Context, m *mirror.Mirror, interval time.Duration, allDone func(), logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		snap, err := s.LoadState(ctx)
		switch {
		case errors.Is(err, state.ErrNoState):
			continue // the mirror is creating it
		case err != nil:
			if ctx.Err() == nil {
				logger.Warn("could not read promoted topics; retrying", "err", err)
			}
			continue
		}
		before := s.promoted()
		now := map[string]bool{}
		for t := range snap.Promoted {
			now[t] = true
		}
		s.promotedNow.Store(&now)
		changed := false
		for t := range now {
			if !before[t] {
				changed = true
				logger.Info("topic promoted: mirroring of it stops", "topic", t)
			}
		}
		if !changed {
			continue
		}
		left := s.mirrorTopics(s.mappings())
		if len(left) == 0 {
			logger.Info("every topic of the migration is promoted: mirroring is done")
			allDone()
			return
		}
		m.SetTopics(left)
	}
}

// syncLoop keeps the target in step with the source while mirroring
// continuously: new selected topics are created and mirrored, partitions
// added to the source are added to the target, config changes copied.
func (s *Setup) syncLoop(ctx context.Context, m *mirror.Mirror, logger *slog.Logger) {
	interval := s.Config.Topics.SyncInterval
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
		if err := s.syncOnce(ctx, m, logger); err != nil && ctx.Err() == nil {
			logger.Warn("topic sync failed; retrying at the next interval", "err", err)
		}
	}
}

func (s *Setup) syncOnce(ctx context.Context, m *mirror.Mirror, logger *slog.Logger) error {
	srcAdm, tgtAdm := kadm.NewClient(s.srcCl), kadm.NewClient(s.tgtCl)
	known := map[string]string{}
	for _, t := range s.mappings() {
		known[t.Source] = t.Target
	}
	owned := func(target string) bool {
		return slices.Contains(slices.Collect(maps.Values(known)), target) || s.owned(target)
	}
	plan, err := topics.Inspect(ctx, srcAdm, tgtAdm, s.Config.Topics, owned)
	if err != nil {
		return err
	}
	for _, c := range plan.Conflicts() {
		logger.Error("new source topic cannot be mirrored", "conflict", c)
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
			logger.Info("mirroring new source topic", "source", t.Source, "target", t.Target, "partitions", t.Partitions)
		}
	}
	// Promoted topics are the target's own now: partitions and configs no
	// longer follow the source.
	promoted := s.promoted()
	ms := slices.DeleteFunc(plan.Mappings(), func(m topics.Mapping) bool { return promoted[m.Source] })
	added, err := topics.SyncPartitions(ctx, srcAdm, tgtAdm, ms)
	if err != nil {
		return err
	}
	for _, a := range added {
		logger.Info("added partitions to target topic", "topic", fmt.Sprint(a))
	}
	changed, err := topics.SyncConfigs(ctx, srcAdm, tgtAdm, s.Config.Topics, ms)
	if err != nil {
		return err
	}
	for _, c := range changed {
		logger.Info("copied topic config change", "change", fmt.Sprint(c))
	}
	s.planMu.Lock()
	s.Plan = plan
	s.planMu.Unlock()
	if len(fresh) > 0 {
		m.SetTopics(s.mirrorTopics(ms))
	} else if len(added) > 0 {
		m.Reload()
	}
	return nil
}
