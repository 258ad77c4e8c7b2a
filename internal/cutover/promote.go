package cutover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/status"
)

// ErrPreconditions is returned, wrapped with the list, when promotion is
// refused.
var ErrPreconditions = errors.New("promotion preconditions are not met")

// ErrUnknownTopic is returned for a --topic the migration does not mirror.
var ErrUnknownTopic = errors.New("not a topic of this migration")

// PromoteResult is what Promote did.
type PromoteResult struct {
	// Promoted are the topics promoted now; Already those promoted
	// before.
	Promoted []string `json:"promoted"`
	Already  []string `json:"already"`
	// Forced is set when preconditions were overridden; Unmet lists them.
	Forced bool     `json:"forced"`
	Unmet  []string `json:"unmet"`
	Phase  string   `json:"phase"`
	// Gateways are the live gateways (kmigrate gateway) that held the
	// topics' writes during the switch; PauseMillis is how long each
	// topic's writes were held, by topic. Both are empty without
	// gateways.
	Gateways    []string         `json:"gateways,omitempty"`
	PauseMillis map[string]int64 `json:"pause_ms,omitempty"`
	// Released are the promoted target topics whose write guards (mirror
	// --protect-target, access protect) the promote command removed.
	Released []string `json:"released_guards,omitempty"`
}

// Promote promotes topics (source names; none means every topic of the
// migration): their mirroring stops for good, because nothing writes to
// them on the source any more. Preconditions per topic (status.Unmet):
// replication lag zero, the source quiet for the quiet period, and every
// selected group that consumes the topic switched to the target. Unless
// force, an unmet precondition refuses the whole promotion and nothing is
// written (ErrPreconditions). The promotion is recorded in the migration's
// state topic, with an event and the new phase; a running mirror stops
// copying the topic at its next check, committing a final checkpoint.
//
// When live gateways serve the migration, each topic is switched through
// them instead (gateways.go): lag and source writes are then not
// preconditions, the switch drains them; a switch that fails returns
// ErrGatewaySwitch after recording the topics promoted before it.
func Promote(ctx context.Context, h *migration.Handle, topics []string, force bool, o status.Options) (*PromoteResult, error) {
	stateTopic := h.StateTopic()
	st, gws, err := gateways(ctx, h)
	if err != nil {
		return nil, err
	}
	if st != nil {
		defer st.Close()
	}
	unmet := status.Unmet
	if len(gws) > 0 {
		unmet = unmetHeld
	}
	r, err := status.Make(ctx, h, o)
	if err != nil {
		return nil, err
	}
	res := &PromoteResult{Promoted: []string{}, Already: []string{}, Unmet: []string{}}
	byName := map[string]status.Topic{}
	for _, t := range r.Topics {
		byName[t.Source] = t
	}
	if len(topics) == 0 {
		for _, t := range r.Topics {
			topics = append(topics, t.Source)
		}
	}
	var todo []status.Topic
	for _, name := range topics {
		t, ok := byName[name]
		switch {
		case !ok:
			known := make([]string, 0, len(r.Topics))
			for _, t := range r.Topics {
				known = append(known, t.Source)
			}
			return nil, fmt.Errorf("topic %q: %w %s (its source topics: %s)", name, ErrUnknownTopic, r.Migration, strings.Join(known, ", "))
		case t.Promoted != nil:
			res.Already = append(res.Already, name)
		case !slices.ContainsFunc(todo, func(x status.Topic) bool { return x.Source == name }):
			todo = append(todo, t)
			res.Unmet = append(res.Unmet, unmet(r, t, o.Quiet)...)
		}
	}
	if len(todo) == 0 {
		res.Phase = r.Phase
		return res, nil
	}
	if len(res.Unmet) > 0 && !force {
		return res, fmt.Errorf("%w; nothing was promoted:\n- %s\n(--force promotes anyway)", ErrPreconditions, strings.Join(res.Unmet, "\n- "))
	}
	res.Forced = len(res.Unmet) > 0
	var switchErr error
	if len(gws) > 0 {
		for _, g := range gws {
			res.Gateways = append(res.Gateways, g.ID)
		}
		var switched []string
		switched, res.PauseMillis, switchErr = promoteHeld(ctx, h, st, todo)
		todo = slices.DeleteFunc(todo, func(t status.Topic) bool { return !slices.Contains(switched, t.Source) })
		if len(todo) == 0 {
			return res, switchErr
		}
	}
	now := time.Now().UTC()
	var recs []*kgo.Record
	for _, t := range todo {
		// A switch through the gateways recorded the promotion already;
		// this record adds the override, if any.
		rec, err := state.PromotedRecord(stateTopic, state.Promoted{Topic: t.Source, Time: now, Forced: res.Forced, Unmet: unmet(r, t, o.Quiet)})
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
		res.Promoted = append(res.Promoted, t.Source)
	}
	promoted := len(res.Promoted)
	for _, t := range r.Topics {
		if t.Promoted != nil {
			promoted++
		}
	}
	res.Phase = state.PhasePromote
	if promoted == len(r.Topics) {
		res.Phase = state.PhaseDone
	}
	detail := strings.Join(res.Promoted, ", ")
	if len(gws) > 0 {
		detail += fmt.Sprintf(" (writes held in %d gateways)", len(gws))
	}
	if res.Forced {
		detail += " (forced: " + strings.Join(res.Unmet, "; ") + ")"
	}
	ev, err := state.EventRecord(stateTopic, state.Event{Time: now, Action: "promote", Detail: detail})
	if err != nil {
		return nil, err
	}
	ph, err := state.PhaseRecord(stateTopic, state.Phase{Phase: res.Phase, Time: now})
	if err != nil {
		return nil, err
	}
	if err := state.Write(ctx, h.Target(), append(recs, ev, ph)...); err != nil {
		return nil, err
	}
	return res, switchErr
}
