package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/state"
)

// Sentinels of a switch.
var (
	// ErrUnknownTopic: the topic is not served by the gateway.
	ErrUnknownTopic = errors.New("topic not served by the gateway")
	// ErrNotOnSource: the topic is already switched.
	ErrNotOnSource = errors.New("topic is not routed to the source")
	// ErrSwitchInProgress: another gateway is switching the topic.
	ErrSwitchInProgress = errors.New("another gateway is switching the topic")
	// ErrSwitchAborted: the switch did not finish (its bound passed or
	// a step failed); writes resumed to the source.
	ErrSwitchAborted = errors.New("switch aborted; writes resumed to the source")
)

// checkInterval is how often a switch re-reads the state while it waits
// for other gateways and for the mirror.
const checkInterval = 50 * time.Millisecond

// Switch is the outcome of a promotion through the gateway.
type Switch struct {
	Topic string
	// Pause is how long writes to the topic were held: from the hold to
	// the route to the target.
	Pause time.Duration
	// Ends are the source end offsets the mirror had to reach, by
	// partition.
	Ends map[int32]int64
	// Members are the other gateways that held the topic for the switch.
	Members []string
}

// Promote switches topic's writes from the source to the target without
// losing, duplicating or reordering one: it holds new writes here and
// asks every other gateway of the migration to hold them too (coord.go),
// waits until none is in flight anywhere, waits until the mirror's
// checkpoints reach the source's end offsets (lag zero), records the
// promotion in the state (the mirror stops copying the topic and the other
// gateways switch), and routes the held and later writes to the target.
// If that does not finish within SwitchTimeout, the hold is withdrawn and
// writes resume to the source (ErrSwitchAborted).
func (s *Server) Promote(ctx context.Context, topic string) (*Switch, error) {
	route, ok := s.routes[topic]
	if !ok {
		return nil, fmt.Errorf("promote %q: %w", topic, ErrUnknownTopic)
	}
	if side := route.current(); side != Source {
		return nil, fmt.Errorf("promote %q: %w: it is %s", topic, ErrNotOnSource, side)
	}
	v, err := s.store.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("promote %q: read state: %w", topic, err)
	}
	if h, ok := v.Holds[topic]; ok && h.By != s.id && time.Now().Before(h.Until) {
		return nil, fmt.Errorf("promote %q: %w (%s)", topic, ErrSwitchInProgress, h.By)
	}
	start := time.Now()
	h := Hold{Nonce: nonce(), By: s.id, Time: start, Until: start.Add(s.opts.SwitchTimeout)}
	s.setOwnHold(topic, h.Nonce)
	defer s.setOwnHold(topic, "")
	drained, err := route.hold()
	if err != nil {
		return nil, fmt.Errorf("promote %q: %w", topic, err)
	}
	s.log.Info("switch: holding writes", "topic", topic, "nonce", h.Nonce)
	sw, err := s.drain(ctx, topic, h, drained)
	if err != nil {
		s.withdraw(topic)
		route.set(Source)
		s.stats.switchAborted(topic)
		s.log.Warn("switch aborted; writes resume to the source", "topic", topic, "held", time.Since(start), "err", err)
		return nil, fmt.Errorf("promote %q: %w: %w", topic, ErrSwitchAborted, err)
	}
	route.set(Target)
	sw.Pause = time.Since(start)
	s.stats.switched(topic, sw.Pause)
	s.log.Info("switch: writes go to the target", "topic", topic, "pause", sw.Pause, "gateways", len(sw.Members)+1)
	return sw, nil
}

// drain is the part of a switch that may fail: the hold everywhere, the
// lag, the record.
func (s *Server) drain(ctx context.Context, topic string, h Hold, drained <-chan struct{}) (*Switch, error) {
	_, name := s.upstreamFor(Target, topic)
	sw := &switcher{store: s.store, src: s.src.adm, tgt: s.tgt.adm, target: name,
		self: s.id, by: "gateway " + s.id, memberTimeout: s.opts.MemberTimeout, log: s.log}
	out, base, err := sw.run(ctx, topic, h, drained)
	if err != nil {
		return nil, err
	}
	s.setBase(topic, base)
	return out, nil
}

// switcher runs the steps of a switch that need no routes of their own:
// the hold in every gateway, the drain, the lag, the record. A gateway's
// Promote runs it once it holds the topic itself; kmigrate promote runs it
// through PromoteHeld (external.go), holding nothing itself.
type switcher struct {
	store    Store
	src, tgt *kadm.Client
	// target is the topic's name on the target.
	target string
	// self is the id the hold and the event name; a gateway's own id
	// is not waited for.
	self string
	// by names the promoter in the event ("gateway <id>").
	by            string
	memberTimeout time.Duration
	log           *slog.Logger
}

// run writes hold h, waits for drained (this process's own writes in
// flight) and for every live gateway's acknowledgement, lists the
// source's end offsets, waits until the mirror copied them, and records
// the promotion with the offset base, all before h.Until.
func (w *switcher) run(ctx context.Context, topic string, h Hold, drained <-chan struct{}) (*Switch, *Base, error) {
	ctx, cancel := context.WithDeadline(ctx, h.Until)
	defer cancel()
	if err := w.store.Write(ctx, holdRecord(topic, h)); err != nil {
		return nil, nil, fmt.Errorf("record the hold: %w", err)
	}
	select {
	case <-drained:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("writes in flight here: %w", ctx.Err())
	}
	sw := &Switch{Topic: topic, Ends: map[int32]int64{}}
	var err error
	if sw.Members, err = w.waitHeld(ctx, topic, h); err != nil {
		return nil, nil, err
	}
	listed, err := w.src.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("source end offsets: %w", err)
	}
	listed.Each(func(o kadm.ListedOffset) { sw.Ends[o.Partition] = o.Offset })
	if err := w.waitCopied(ctx, topic, sw.Ends); err != nil {
		return nil, nil, err
	}
	base, err := w.targetBase(ctx, sw.Ends)
	if err != nil {
		return nil, nil, err
	}
	records := append([]*kgo.Record{baseRecord(topic, *base)}, w.promotionRecords(topic, time.Since(h.Time))...)
	if err := w.store.Write(ctx, records...); err != nil {
		return nil, nil, fmt.Errorf("record the promotion: %w", err)
	}
	return sw, base, nil
}

// targetBase reads the target's end offsets once the mirror copied
// everything: the first offsets written natively (offsets.go).
func (w *switcher) targetBase(ctx context.Context, ends map[int32]int64) (*Base, error) {
	listed, err := w.tgt.ListEndOffsets(ctx, w.target)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("target end offsets: %w", err)
	}
	b := &Base{SourceEnds: ends, TargetStarts: map[int32]int64{}}
	listed.Each(func(o kadm.ListedOffset) { b.TargetStarts[o.Partition] = o.Offset })
	return b, nil
}

// waitHeld waits until every live gateway acknowledged hold h, and
// returns them.
func (w *switcher) waitHeld(ctx context.Context, topic string, h Hold) ([]string, error) {
	return poll(ctx, w.store, func(v *View) ([]string, error) {
		live := v.live(w.self, time.Now(), w.memberTimeout)
		if waiting := v.waitingFor(topic, h.Nonce, live); len(waiting) > 0 {
			return nil, fmt.Errorf("gateways %v have not acknowledged the hold", waiting)
		}
		return live, nil
	})
}

// waitCopied waits until the mirror's checkpoint of every partition of
// topic is at or past ends.
func (w *switcher) waitCopied(ctx context.Context, topic string, ends map[int32]int64) error {
	_, err := poll(ctx, w.store, func(v *View) (struct{}, error) {
		if lag := lagOf(v.Next, topic, ends); lag > 0 {
			w.log.Debug("switch: mirror lag", "topic", topic, "lag", lag)
			return struct{}{}, fmt.Errorf("mirror lag of %d records did not reach zero", lag)
		}
		return struct{}{}, nil
	})
	return err
}

// poll reads the store every checkInterval until done says yes (nil
// error) or ctx ends, with done's last reason.
func poll[T any](ctx context.Context, st Store, done func(*View) (T, error)) (T, error) {
	t := time.NewTicker(checkInterval)
	defer t.Stop()
	for {
		var out T
		v, err := st.Read(ctx)
		if err == nil {
			if out, err = done(v); err == nil {
				return out, nil
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return out, fmt.Errorf("%w: %w", err, ctx.Err())
		}
	}
}

// lagOf is how many source records below ends the mirror has not
// copied, by its checkpoints.
func lagOf(next map[state.TopicPartition]int64, topic string, ends map[int32]int64) int64 {
	var lag int64
	for p, end := range ends {
		lag += max(0, end-next[state.TopicPartition{Topic: topic, Partition: p}])
	}
	return lag
}

// promotionRecords are the promotion, its event, and the end of the hold.
func (w *switcher) promotionRecords(topic string, pause time.Duration) []*kgo.Record {
	now := time.Now()
	p, err := state.PromotedRecord("", state.Promoted{Topic: topic, Time: now})
	if err != nil {
		panic(err) // a plain struct always encodes
	}
	e, err := state.EventRecord("", state.Event{
		Time: now, Action: "promote",
		Detail: fmt.Sprintf("%s through %s; writes paused %s", topic, w.by, pause.Round(time.Millisecond)),
	})
	if err != nil {
		panic(err)
	}
	return []*kgo.Record{p, e, tombstone(keyGateway + "/hold/" + topic)}
}

// withdraw deletes this gateway's hold of topic after an aborted switch,
// with its own bound: the switch's context may be what ended.
func (s *Server) withdraw(topic string) { withdraw(s.store, topic, s.opts.PollInterval*3, s.log) }

// withdraw deletes the hold of topic within bound.
func withdraw(st Store, topic string, bound time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := st.Write(ctx, tombstone(keyGateway+"/hold/"+topic)); err != nil {
		log.Warn("could not withdraw the hold; other gateways release it at its deadline", "topic", topic, "err", err)
	}
}

func nonce() string {
	var b [8]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
