package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// A promotion made outside the gateways (kmigrate promote) must hold them
// as a gateway's own Promote does, or a write a gateway forwards to the
// source after the mirror's last copy is stranded there. PromoteHeld runs
// the same switch (switcher) from a process that serves no clients: its
// hold makes every live gateway hold the topic and acknowledge once its
// writes in flight are answered; then the lag is drained and the
// promotion recorded with the offset base, and the gateways route the
// held writes to the target at their next read of the state.

// defaultMemberTimeout is how long a heartbeat counts as live for a
// gateway that does not say (Member.TimeoutMillis): the default
// MemberTimeout.
const defaultMemberTimeout = 3 * time.Second

// LiveGateways returns the gateways of view v whose heartbeat is younger
// than their MemberTimeout at now: those that may forward writes to the
// source (a gateway whose lease ran out does not).
func LiveGateways(v *View, now time.Time) []Member {
	var out []Member
	for _, id := range v.live("", now, defaultMemberTimeout) {
		out = append(out, v.Members[id])
	}
	return out
}

// ExternalPromotion configures PromoteHeld.
type ExternalPromotion struct {
	// Store is the migration's state (NewStateStore).
	Store Store
	// Source and Target are admin clients of the clusters.
	Source, Target *kadm.Client
	// Topic is the topic's source name, TargetTopic its name on the
	// target.
	Topic, TargetTopic string
	// By names the promoter in the hold and the event
	// ("kmigrate promote").
	By string
	// Timeout bounds the switch (default 30s); past it the hold is
	// withdrawn and the gateways resume writing to the source.
	Timeout time.Duration
	Logger  *slog.Logger
}

// PromoteHeld promotes a topic that gateways serve, from outside them:
// it holds the topic in every live gateway, waits until none has a write
// to it in flight to the source, waits until the mirror has copied the
// source to its end offsets, and records the promotion with the gateways'
// offset base (offsets.go). It fails with ErrSwitchInProgress while
// another switch of the topic holds it, ErrNotOnSource when the topic is
// promoted already, and ErrSwitchAborted (hold withdrawn, nothing
// recorded) when the switch does not finish within Timeout. The pause it
// returns runs from the hold to the record; each gateway releases its
// held writes to the target at its next read of the state, up to one
// poll interval later.
func PromoteHeld(ctx context.Context, o ExternalPromotion) (*Switch, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	v, err := o.Store.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("promote %q: read state: %w", o.Topic, err)
	}
	start := time.Now()
	if h, ok := v.Holds[o.Topic]; ok && start.Before(h.Until) {
		return nil, fmt.Errorf("promote %q: %w (%s)", o.Topic, ErrSwitchInProgress, h.By)
	}
	if v.Promoted[o.Topic] {
		return nil, fmt.Errorf("promote %q: %w: it is promoted", o.Topic, ErrNotOnSource)
	}
	id := "promote-" + nonce()
	h := Hold{Nonce: nonce(), By: id, Time: start, Until: start.Add(o.Timeout)}
	w := &switcher{store: o.Store, src: o.Source, tgt: o.Target, target: o.TargetTopic,
		self: id, by: o.By, memberTimeout: defaultMemberTimeout, log: o.Logger}
	drained := make(chan struct{})
	close(drained) // nothing is written here
	o.Logger.Info("switch: holding writes in every gateway", "topic", o.Topic, "nonce", h.Nonce)
	sw, _, err := w.run(ctx, o.Topic, h, drained)
	if err != nil {
		withdraw(o.Store, o.Topic, 3*defaultMemberTimeout, o.Logger)
		o.Logger.Warn("switch aborted; the gateways resume writing to the source", "topic", o.Topic, "held", time.Since(start), "err", err)
		return nil, fmt.Errorf("promote %q: %w: %w", o.Topic, ErrSwitchAborted, err)
	}
	sw.Pause = time.Since(start)
	o.Logger.Info("switch recorded; the gateways write to the target", "topic", o.Topic, "pause", sw.Pause, "gateways", len(sw.Members))
	return sw, nil
}
