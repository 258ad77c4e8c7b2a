package mirror

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Topic is a source topic and the target topic it is copied to. The target
// topic must exist with at least as many partitions as the source.
type Topic struct {
	Source, Target string
}

// Options configure a Mirror. Every field but Logger is required.
type Options struct {
	// Name is the migration's name: the state topic and the
	// transactional id derive from it.
	Name string
	// Source and Target are the clusters' connection settings.
	Source, Target *config.Cluster
	// SourceID and TargetID are the clusters' ids (from a probe); the
	// state records them and refuses to resume against other clusters.
	SourceID, TargetID string
	// Topics are the topics to copy.
	Topics []Topic
	// Groups selects the source consumer groups whose committed offsets
	// define the "committed" start position.
	Groups config.Selection
	// Settings are the mirror settings from the spec and flags.
	Settings config.Mirror
	// StateReplicationFactor is the state topic's replication factor, -1
	// for the cluster default.
	StateReplicationFactor int16
	Logger                 *slog.Logger
	// SourceOpts and TargetOpts are extra franz-go options for every
	// client to that cluster (tests inject fault-injecting dialers here).
	SourceOpts, TargetOpts []kgo.Opt
	// Units is the migration's unit count (state.Meta.Units) and Unit
	// the one work unit this Mirror copies (units.go): only the
	// partitions of that unit, under the unit's transactional id. Units
	// below 2 copies every partition under the migration's own id, as
	// kmigrate did before units.
	Unit, Units int
}

func (o *Options) validate() error {
	var errs []error
	if o.Name == "" {
		errs = append(errs, errors.New("mirror: no migration name"))
	}
	if o.Source == nil || o.Target == nil {
		errs = append(errs, errors.New("mirror: source and target are required"))
	}
	if o.SourceID == "" || o.TargetID == "" {
		errs = append(errs, errors.New("mirror: source and target cluster ids are required"))
	}
	if o.Units > 1 && (o.Unit < 0 || o.Unit >= o.Units) {
		errs = append(errs, fmt.Errorf("mirror: unit %d is not one of the migration's %d units", o.Unit, o.Units))
	}
	seen := map[string]bool{}
	for _, t := range o.Topics {
		if seen[t.Source] {
			errs = append(errs, fmt.Errorf("mirror: source topic %q listed twice", t.Source))
		}
		seen[t.Source] = true
	}
	return errors.Join(errs...)
}

// defaults fills the zero fields with their defaults.
func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}
