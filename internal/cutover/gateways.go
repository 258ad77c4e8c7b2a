package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/status"
)

// Gateways (kmigrate gateway) forward producers' writes to the source
// until a topic is promoted. Recording a promotion while one serves the
// topic would let it forward writes to the source after the mirror's last
// copy: they would never reach the target. So when the state lists live
// gateways, Promote switches each topic the way a gateway does (package
// gateway, PromoteHeld): every gateway holds the topic's writes, the
// writes in flight are answered, the mirror's lag reaches zero, the
// promotion is recorded, and the gateways send the held and later writes
// to the target.

// ErrGatewaySwitch is returned, wrapped, when a switch through the
// gateways did not finish; the topics listed as promoted before it are.
var ErrGatewaySwitch = errors.New("switch through the gateways failed")

// gatewaySwitchTimeout bounds each topic's switch.
const gatewaySwitchTimeout = 30 * time.Second

// gateways opens the migration's state as the gateways share it and
// returns the live gateways. No state topic means no gateway.
func gateways(ctx context.Context, h *migration.Handle) (*gateway.StateStore, []gateway.Member, error) {
	opts, err := cluster.Opts(&h.Config().Target, nil)
	if err != nil {
		return nil, nil, err
	}
	st, err := gateway.NewStateStore(h.Target(), h.Name(), append(opts, h.TargetOpts()...))
	if err != nil {
		return nil, nil, err
	}
	v, err := st.Read(ctx)
	switch {
	case errors.Is(err, gateway.ErrNoMirror):
		st.Close()
		return nil, nil, nil
	case err != nil:
		st.Close()
		return nil, nil, fmt.Errorf("read the gateways from the state: %w", err)
	}
	return st, gateway.LiveGateways(v, time.Now()), nil
}

// unmetHeld is status.Unmet for a topic switched through gateways: the
// switch itself drains the lag and holds the writes the gateways forward
// to the source, so lag and source writes are not preconditions; the
// others (groups reading the source directly, an unreachable source)
// are.
func unmetHeld(r *status.Report, t status.Topic, quiet time.Duration) []string {
	t.Lag = min(t.Lag, 0)
	if t.Producers == status.ProducersSource {
		t.Producers = status.ProducersNone
	}
	return status.Unmet(r, t, quiet)
}

// promoteHeld switches topics one by one through the gateways and
// returns those it promoted and their pauses; it stops at the first
// failure.
func promoteHeld(ctx context.Context, h *migration.Handle, st gateway.Store, todo []status.Topic) ([]string, map[string]int64, error) {
	var done []string
	pauses := map[string]int64{}
	for _, t := range todo {
		sw, err := gateway.PromoteHeld(ctx, gateway.ExternalPromotion{
			Store: st, Source: h.SourceAdmin(), Target: h.TargetAdmin(),
			Topic: t.Source, TargetTopic: t.Target, By: "kmigrate promote",
			Timeout: gatewaySwitchTimeout, Logger: h.Logger(),
		})
		if err != nil {
			promoted := "none"
			if len(done) > 0 {
				promoted = strings.Join(done, ", ")
			}
			return done, pauses, fmt.Errorf("%w: %w (promoted before it: %s; run kmigrate promote again to retry)", ErrGatewaySwitch, err, promoted)
		}
		done = append(done, t.Source)
		pauses[t.Source] = sw.Pause.Milliseconds()
	}
	return done, pauses, nil
}
