package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Topic is a migrated topic: its source name (the name clients use) and
// its name on the target.
type Topic struct {
	Source, Target string
}

// Store is the migration's state as a gateway needs it: which topics are
// promoted and how far the mirror copied (Load), and the record of a
// promotion (Promote). Every gateway of a migration reads the same store,
// so they agree on the routing.
type Store interface {
	Load(ctx context.Context) (*state.Snapshot, error)
	Promote(ctx context.Context, topic string, pause time.Duration) error
}

// Options configure a Server. Listen, Source, Target, Topics and either
// Migration or Store are required.
type Options struct {
	// Listen is the address clients connect to (host:port; port 0 picks
	// one).
	Listen string
	// Advertise is the host:port Metadata and FindCoordinator answers
	// name; empty means the listener's address.
	Advertise string
	// NodeID is the broker id the gateway gives itself (0 if unset).
	NodeID int32
	// Source and Target are the upstream clusters; the gateway connects
	// with their credentials, never with its clients'.
	Source, Target *config.Cluster
	// SourceOpts and TargetOpts are extra franz-go options for the
	// upstream clients (tests inject dialers here).
	SourceOpts, TargetOpts []kgo.Opt
	// Migration is the migration's name: its state topic on the target
	// is the Store when Store is nil.
	Migration string
	// Topics are the topics the gateway serves; clients asking for any
	// other topic are refused.
	Topics []Topic
	// Store overrides the state topic (tests).
	Store Store
	// PollInterval is how often the store is read for promotions made
	// by other gateways or commands (default 1s).
	PollInterval time.Duration
	// SwitchTimeout bounds a switch: drain, mirror lag to zero, record.
	// A switch that does not finish in time is undone (default 30s).
	SwitchTimeout time.Duration
	// HoldTimeout bounds how long one write waits for a switch before
	// it is answered with a retriable error (default SwitchTimeout).
	HoldTimeout time.Duration
	Logger      *slog.Logger
}

func (o *Options) validate() error {
	var errs []error
	if o.Listen == "" {
		errs = append(errs, errors.New("gateway: no listen address"))
	}
	if o.Source == nil || o.Target == nil {
		errs = append(errs, errors.New("gateway: source and target are required"))
	}
	if o.Migration == "" && o.Store == nil {
		errs = append(errs, errors.New("gateway: no migration name"))
	}
	if len(o.Topics) == 0 {
		errs = append(errs, errors.New("gateway: no topics"))
	}
	seen := map[string]bool{}
	for _, t := range o.Topics {
		if t.Source == "" || t.Target == "" || seen[t.Source] {
			errs = append(errs, errors.New("gateway: topic "+t.Source+" empty or listed twice"))
		}
		seen[t.Source] = true
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.SwitchTimeout <= 0 {
		o.SwitchTimeout = 30 * time.Second
	}
	if o.HoldTimeout <= 0 {
		o.HoldTimeout = o.SwitchTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return errors.Join(errs...)
}
