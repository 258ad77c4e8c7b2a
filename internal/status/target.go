package status

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
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Why a second way in besides migration.Open: the dashboard of
// `kmigrate status --serve` must run on any machine that reaches the
// target, which is where the migration's state lives, even one that
// cannot reach the source (another network, no source credentials).
// migration.Open needs both clusters; OpenTarget needs only the target and
// tries the source once, best effort: when it answers, reports are
// complete; when it does not, every figure that only the source knows is
// reported as unknown (Report.SourceUnknown), never guessed.

// ErrAmbiguous: the target holds the state of several migrations and
// nothing says which one to show.
var ErrAmbiguous = errors.New("the target holds several migrations")

// Target is a migration opened from its target, for status reports. It
// owns its clients: Close releases them.
type Target struct {
	cfg      *config.Config
	name     string
	tgt      *kgo.Client
	src      *kgo.Client // nil when the source could not be read
	srcWhy   string
	sourceID string
}

// OpenTarget connects to the target (which must answer), finds the
// migration's state there and tries the source (which may not answer: its
// error is logged and reports go on without it). The migration is the
// spec's name; without one, the default name of the two clusters when the
// source answers, or else the only migration to this target whose state
// the target holds. It writes nothing.
func OpenTarget(ctx context.Context, cfg *config.Config, logger *slog.Logger) (_ *Target, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Target{cfg: cfg}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if t.tgt, err = cluster.Connect(ctx, &cfg.Target, logger, kgo.MetadataMinAge(time.Second)); err != nil {
		return nil, err
	}
	tinfo, err := cluster.Probe(ctx, t.tgt, &cfg.Target)
	if err != nil {
		return nil, err
	}
	var sinfo *cluster.Info
	if src, err := cluster.Connect(ctx, &cfg.Source, logger, kgo.MetadataMinAge(time.Second)); err != nil {
		t.srcWhy = err.Error()
	} else if sinfo, err = cluster.Probe(ctx, src, &cfg.Source); err != nil {
		src.Close()
		t.srcWhy = err.Error()
	} else {
		t.src = src
	}
	if t.src == nil {
		logger.Warn("the source cannot be read from here: reporting from the target alone (lag and source writes unknown)", "error", t.srcWhy)
	}
	switch {
	case cfg.Name != "":
		t.name = cfg.Name
	case sinfo != nil:
		t.name = migration.DefaultName(sinfo.ClusterID, tinfo.ClusterID)
	default:
		if t.name, err = t.findName(ctx, tinfo.ClusterID); err != nil {
			return nil, err
		}
	}
	snap, err := t.LoadState(ctx)
	if errors.Is(err, migration.ErrNoState) || (err == nil && snap.Meta == nil) {
		return nil, fmt.Errorf("%w: no state of migration %q on the target: run kmigrate mirror first", migration.ErrNoState, t.name)
	}
	if err != nil {
		return nil, fmt.Errorf("read migration state: %w", err)
	}
	m := snap.Meta
	if m.TargetClusterID != tinfo.ClusterID || (sinfo != nil && m.SourceClusterID != sinfo.ClusterID) {
		return nil, fmt.Errorf("%w: state topic %s belongs to migration %q from cluster %s to %s: check the cluster addresses or the migration's name",
			migration.ErrStateMismatch, state.TopicName(t.name), m.Migration, m.SourceClusterID, m.TargetClusterID)
	}
	t.sourceID = m.SourceClusterID
	return t, nil
}

// findName returns the name of the only migration to this target whose
// state the target holds.
func (t *Target) findName(ctx context.Context, targetID string) (string, error) {
	listed, err := kadm.NewClient(t.tgt).ListTopics(ctx)
	if err != nil {
		return "", fmt.Errorf("list target topics: %w", err)
	}
	var names []string
	for _, topic := range listed.Names() {
		name, ok := strings.CutPrefix(topic, state.TopicPrefix)
		if !ok {
			continue
		}
		t.name = name
		snap, err := t.LoadState(ctx)
		if err == nil && snap.Meta != nil && snap.Meta.TargetClusterID == targetID {
			names = append(names, name)
		}
	}
	t.name = ""
	slices.Sort(names)
	switch len(names) {
	case 0:
		return "", fmt.Errorf("%w: no migration state on the target and the source cannot be read to name one: run kmigrate mirror first, or give the migration's name in the spec (name:)", migration.ErrNoState)
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("%w (%s) and the source cannot be read to tell which: give the migration's name in the spec (name:)", ErrAmbiguous, strings.Join(names, ", "))
}

// Close releases the clients.
func (t *Target) Close() {
	for _, cl := range []*kgo.Client{t.src, t.tgt} {
		if cl != nil {
			cl.Close()
		}
	}
}

// Name is the migration's name.
func (t *Target) Name() string { return t.name }

// TargetClient is the target's client.
func (t *Target) TargetClient() *kgo.Client { return t.tgt }

// SourceID is the source cluster's id, from the migration's state.
func (t *Target) SourceID() string { return t.sourceID }

// LoadState reads the migration's current state from the target, as
// migration.Handle.LoadState does.
func (t *Target) LoadState(ctx context.Context) (*state.Snapshot, error) {
	topts, err := cluster.Opts(&t.cfg.Target, nil)
	if err != nil {
		return nil, err
	}
	topic := state.TopicName(t.name)
	snap, err := state.Load(ctx, kadm.NewClient(t.tgt), topic, topts)
	if !errors.Is(err, migration.ErrNoState) {
		return snap, err
	}
	// The client may remember the state topic as unknown from a read
	// before a mirror created it: ask again with one that does not.
	fresh, err := kgo.NewClient(t.tgt.Opts()...)
	if err != nil {
		return nil, fmt.Errorf("read migration state: %w", err)
	}
	defer fresh.Close()
	return state.Load(ctx, kadm.NewClient(fresh), topic, topts)
}

// Clusters is what reports on t read: the source only when it answered.
func (t *Target) Clusters() Clusters {
	return Clusters{Source: t.src, SourceUnknown: t.srcWhy, Target: t.tgt, SourceID: t.sourceID,
		Groups: t.cfg.Groups.Selection, State: t.LoadState}
}
