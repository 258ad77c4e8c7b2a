package gateway

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Topic is a migrated topic: its source name (the name clients use) and
// its name on the target.
type Topic struct {
	Source, Target string
}

// Options configure a Server. Listen, Source, Target, Topics and either
// Migration or Store are required.
type Options struct {
	// Listen is the address clients connect to (host:port; port 0 picks
	// one).
	Listen string
	// Advertise is the host:port Metadata answers name; empty means
	// the listener's address.
	Advertise string
	// NodeID is the broker id the gateway gives itself (0 if unset).
	NodeID int32
	// ID names this gateway among the migration's gateways (random if
	// empty).
	ID string
	// TLS, when set, makes the listener TLS (with ClientAuth for mutual
	// TLS).
	TLS *tls.Config
	// Users, when not nil, are the SASL/PLAIN users clients must
	// authenticate as (user -> password).
	Users map[string]config.Secret
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
	// it is answered with a retriable error (default 5s, at most
	// SwitchTimeout): shorter than clients' own request timeouts, so
	// they retry on the gateway's answer instead of dropping their
	// connection.
	HoldTimeout time.Duration
	// MemberTimeout is how old a gateway's heartbeat may be before a
	// switch stops waiting for it (default 3 PollIntervals). A gateway
	// writes to the source only while its last state read is younger
	// than MemberTimeout less one PollInterval (its lease), which
	// tolerates clock skew between gateways below one PollInterval.
	MemberTimeout time.Duration
	Logger        *slog.Logger
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
	if o.MemberTimeout < 2*o.PollInterval {
		o.MemberTimeout = 3 * o.PollInterval
	}
	if o.HoldTimeout <= 0 {
		o.HoldTimeout = min(5*time.Second, o.SwitchTimeout)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return errors.Join(errs...)
}
