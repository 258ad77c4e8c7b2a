// Package migration is the one way in to a migration: Open connects to both
// clusters, identifies them, names the migration and reads whether it has
// state on the target, and returns a Handle that every command and domain
// package (groups, status, cutover, verify, plan, and the continuous runner
// in migrate) works from.
//
// Why a handle: each of those packages needs the same few things (a client
// per cluster, the cluster ids, the migration's name and state topic, a way
// to read its state) and each used to declare its own input struct for
// them, filled by one object that also ran the mirror. A Handle is
// immutable after Open, so it can be shared by goroutines and passed down
// without anyone wondering who changes it; what changes while a migration
// runs (its state) is read again with LoadState, never cached here.
//
// The Handle owns its two clients: Close releases them.
package migration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/preflight"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/topics"
)

// ErrNoState is the one "this migration has no state on the target yet"
// condition (it is state.ErrNoState): LoadState returns it wrapped, and every
// package that reads state passes it on for callers to test with errors.Is.
var ErrNoState = state.ErrNoState

// ErrStateMismatch: the state topic under this migration's name belongs to
// a migration between other clusters (it is state.ErrMismatch).
var ErrStateMismatch = state.ErrMismatch

// DefaultName is the migration name used when the spec gives none: stable
// for a pair of clusters, so that re-running the same command resumes and
// later commands with the same flags find the same state.
func DefaultName(sourceID, targetID string) string { return state.DefaultName(sourceID, targetID) }

// Handle is an open migration. Immutable after Open; safe for concurrent
// use.
type Handle struct {
	cfg            *config.Config
	name           string
	src, tgt       *kgo.Client
	source, target *cluster.Info
	opened         *state.Snapshot
	reverse        []*state.Meta
	logger         *slog.Logger
	srcOpts        []kgo.Opt
	tgtOpts        []kgo.Opt
}

// Option changes how Open connects.
type Option func(*Handle)

// ClientOpts adds franz-go options to every client of the source and of
// the target that the handle and what is built on it create (tests inject
// fault-injecting dialers here).
func ClientOpts(source, target []kgo.Opt) Option {
	return func(h *Handle) {
		h.srcOpts = append(h.srcOpts, source...)
		h.tgtOpts = append(h.tgtOpts, target...)
	}
}

// Open connects to both clusters, identifies them (refusing one cluster
// twice), names the migration and reads its state from the target, if it
// has any (refusing state that belongs to other clusters), and the state of
// a migration in the other direction on the source (mirroring back after a
// promotion). It writes nothing. cfg must not change afterwards. The caller
// closes the Handle.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts ...Option) (_ *Handle, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handle{cfg: cfg, logger: logger}
	for _, o := range opts {
		o(h)
	}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	// A short metadata age: kadm caches what it learns for this long,
	// including "unknown topic" for a state topic that a starting mirror
	// creates a moment later (status, the promotion watcher and group sync
	// read it through these clients).
	if h.src, err = cluster.Connect(ctx, &cfg.Source, logger, append([]kgo.Opt{kgo.MetadataMinAge(time.Second)}, h.srcOpts...)...); err != nil {
		return nil, err
	}
	if h.tgt, err = cluster.Connect(ctx, &cfg.Target, logger, append([]kgo.Opt{kgo.MetadataMinAge(time.Second)}, h.tgtOpts...)...); err != nil {
		return nil, err
	}
	if h.source, err = cluster.Probe(ctx, h.src, &cfg.Source); err != nil {
		return nil, err
	}
	if h.target, err = cluster.Probe(ctx, h.tgt, &cfg.Target); err != nil {
		return nil, err
	}
	if err := preflight.SameCluster(h.source, h.target); err != nil {
		return nil, err
	}
	h.name = cfg.Name
	if h.name == "" {
		h.name = DefaultName(h.source.ClusterID, h.target.ClusterID)
	}
	snap, err := h.LoadState(ctx)
	switch {
	case errors.Is(err, ErrNoState):
	case err != nil:
		return nil, fmt.Errorf("read migration state: %w", err)
	default:
		h.opened = snap
	}
	if m := h.Meta(); m != nil && (m.SourceClusterID != h.source.ClusterID || m.TargetClusterID != h.target.ClusterID) {
		return nil, fmt.Errorf("%w: state topic %s belongs to migration %q from cluster %s to %s: give this migration another name",
			ErrStateMismatch, h.StateTopic(), m.Migration, m.SourceClusterID, m.TargetClusterID)
	}
	if h.reverse, err = h.findReverse(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// Close releases the handle's clients.
func (h *Handle) Close() {
	for _, cl := range []*kgo.Client{h.src, h.tgt} {
		if cl != nil {
			cl.Close()
		}
	}
}

// Name is the migration's name.
func (h *Handle) Name() string { return h.name }

// StateTopic is the migration's state topic on the target.
func (h *Handle) StateTopic() string { return state.TopicName(h.name) }

// Config is the validated configuration the handle was opened with. Do not
// modify it.
func (h *Handle) Config() *config.Config { return h.cfg }

// Logger is the logger the handle was opened with (never nil).
func (h *Handle) Logger() *slog.Logger { return h.logger }

// Source and Target are the handle's clients; the Handle owns them.
func (h *Handle) Source() *kgo.Client { return h.src }

// Target: see Source.
func (h *Handle) Target() *kgo.Client { return h.tgt }

// SourceOpts and TargetOpts are the extra client options given to Open
// (ClientOpts), for clients built on the handle (the mirror's).
func (h *Handle) SourceOpts() []kgo.Opt { return h.srcOpts }

// TargetOpts: see SourceOpts.
func (h *Handle) TargetOpts() []kgo.Opt { return h.tgtOpts }

// SourceAdmin and TargetAdmin are admin clients on the handle's clients.
func (h *Handle) SourceAdmin() *kadm.Client { return kadm.NewClient(h.src) }

// TargetAdmin: see SourceAdmin.
func (h *Handle) TargetAdmin() *kadm.Client { return kadm.NewClient(h.tgt) }

// SourceInfo and TargetInfo are what the probe learned of each cluster.
func (h *Handle) SourceInfo() *cluster.Info { return h.source }

// TargetInfo: see SourceInfo.
func (h *Handle) TargetInfo() *cluster.Info { return h.target }

// SourceID and TargetID are the cluster ids.
func (h *Handle) SourceID() string { return h.source.ClusterID }

// TargetID: see SourceID.
func (h *Handle) TargetID() string { return h.target.ClusterID }

// Opened is the state as read by Open, nil when the migration had none.
// Use LoadState for the current state.
func (h *Handle) Opened() *state.Snapshot { return h.opened }

// Meta is the migration's meta as read by Open, nil before its first run.
func (h *Handle) Meta() *state.Meta {
	if h.opened == nil {
		return nil
	}
	return h.opened.Meta
}

// Reverse is the meta of every migration in the other direction (from
// this target to this source) when this one mirrors back after them; nil
// otherwise. There may be several: topics moved in waves, one migration
// each, are mirrored back by one reverse migration.
func (h *Handle) Reverse() []*state.Meta { return h.reverse }

// LoadState reads the migration's current state from the target. Without
// state it returns an error wrapping ErrNoState.
func (h *Handle) LoadState(ctx context.Context) (*state.Snapshot, error) {
	topts, err := cluster.Opts(&h.cfg.Target, nil)
	if err != nil {
		return nil, err
	}
	topts = append(topts, h.tgtOpts...)
	snap, err := state.Load(ctx, h.TargetAdmin(), h.StateTopic(), topts)
	if !errors.Is(err, ErrNoState) {
		return snap, err
	}
	// The client may remember the state topic as unknown from a read
	// before a mirror created it (for up to its metadata age): ask again
	// with a client that has no such memory.
	fresh, err := kgo.NewClient(h.tgt.Opts()...)
	if err != nil {
		return nil, fmt.Errorf("read migration state: %w", err)
	}
	defer fresh.Close()
	return state.Load(ctx, kadm.NewClient(fresh), h.StateTopic(), topts)
}

// Reload reads the migration's state again, for Meta and Owned: another
// process of the migration may have claimed topics since Open.
func (h *Handle) Reload(ctx context.Context) error {
	snap, err := h.LoadState(ctx)
	switch {
	case errors.Is(err, ErrNoState):
		return nil
	case err != nil:
		return fmt.Errorf("read migration state: %w", err)
	}
	if m := snap.Meta; m != nil && (m.SourceClusterID != h.source.ClusterID || m.TargetClusterID != h.target.ClusterID) {
		return fmt.Errorf("%w: state topic %s belongs to migration %q from cluster %s to %s: give this migration another name",
			ErrStateMismatch, h.StateTopic(), m.Migration, m.SourceClusterID, m.TargetClusterID)
	}
	h.opened = snap
	return nil
}

// Owned reports whether target is a topic this migration may write to
// although it exists: one it created, or one the reverse migration copied
// from here (mirroring back into it is what rolling back after a promotion
// means).
func (h *Handle) Owned(target string) bool {
	for _, m := range h.reverse {
		if m.Topics[target] != "" {
			return true
		}
	}
	if m := h.Meta(); m != nil {
		for _, t := range m.Topics {
			if t == target {
				return true
			}
		}
	}
	return false
}

// findReverse finds, on the source, the state of every migration in the
// other direction (from this target to this source). nil when there is
// none.
func (h *Handle) findReverse(ctx context.Context) ([]*state.Meta, error) {
	adm := h.SourceAdmin()
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list source topics: %w", err)
	}
	topts, err := cluster.Opts(&h.cfg.Source, nil)
	if err != nil {
		return nil, err
	}
	topts = append(topts, h.srcOpts...)
	var found []*state.Meta
	for _, name := range listed.Names() {
		if !strings.HasPrefix(name, state.TopicPrefix) {
			continue
		}
		snap, err := state.Load(ctx, adm, name, topts)
		if err != nil {
			return nil, fmt.Errorf("read state topic %s on the source: %w", name, err)
		}
		if m := snap.Meta; m != nil && m.SourceClusterID == h.target.ClusterID && m.TargetClusterID == h.source.ClusterID {
			found = append(found, m)
		}
	}
	return found, nil
}

// PlanTopics plans the migration's target topics (topics.Inspect with this
// migration's ownership rule). It only reads.
func (h *Handle) PlanTopics(ctx context.Context) (*topics.Plan, error) {
	p, err := topics.Inspect(ctx, h.SourceAdmin(), h.TargetAdmin(), h.cfg.Topics, h.Owned)
	if err != nil {
		return nil, fmt.Errorf("plan topics: %w", err)
	}
	return p, nil
}

// Problems returns what blocks mirroring with plan, each with what to do:
// conflicting target topics, no topic selected, exactly-once without
// transactions on the target.
func (h *Handle) Problems(plan *topics.Plan) []string {
	out := slices.Clone(plan.Conflicts())
	if len(plan.Mappings()) == 0 && len(plan.Conflicts()) == 0 {
		out = append(out, "no source topic matches the topic selection: check --topics or topics.include")
	}
	if h.cfg.Mirror.Guarantee == config.ExactlyOnce && !h.target.Features.Transactions {
		out = append(out, "the target does not support transactions, which exactly-once mirroring needs: use --guarantee at-least-once")
	}
	return out
}
