package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
	ctx, cancel := context.WithDeadline(ctx, h.Until)
	defer cancel()
	if err := s.store.Write(ctx, holdRecord(topic, h)); err != nil {
		return nil, fmt.Errorf("record the hold: %w", err)
	}
	select {
	case <-drained:
	case <-ctx.Done():
		return nil, fmt.Errorf("writes in flight here: %w", ctx.Err())
	}
	sw := &Switch{Topic: topic, Ends: map[int32]int64{}}
	var err error
	if sw.Members, err = s.waitHeld(ctx, topic, h); err != nil {
		return nil, err
	}
	listed, err := s.src.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("source end offsets: %w", err)
	}
	listed.Each(func(o kadm.ListedOffset) { sw.Ends[o.Partition] = o.Offset })
	if err := s.waitCopied(ctx, topic, sw.Ends); err != nil {
		return nil, err
	}
	base, err := s.targetBase(ctx, topic, sw.Ends)
	if err != nil {
		return nil, err
	}
	records := append([]*kgo.Record{baseRecord(topic, *base)}, s.promotionRecords(topic, time.Since(h.Time))...)
	if err := s.store.Write(ctx, records...); err != nil {
		return nil, fmt.Errorf("record the promotion: %w", err)
	}
	s.setBase(topic, base)
	return sw, nil
}

// targetBase reads the target's end offsets once the mirror copied
// everything: the first offsets written natively (offsets.go).
func (s *Server) targetBase(ctx context.Context, topic string, ends map[int32]int64) (*Base, error) {
	_, name := s.upstreamFor(Target, topic)
	listed, err := s.tgt.adm.ListEndOffsets(ctx, name)
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
func (s *Server) waitHeld(ctx context.Context, topic string, h Hold) ([]string, error) {
	return poll(ctx, s.store, func(v *View) ([]string, error) {
		live := v.live(s.id, time.Now(), s.opts.MemberTimeout)
		if waiting := v.waitingFor(topic, h.Nonce, live); len(waiting) > 0 {
			return nil, fmt.Errorf("gateways %v have not acknowledged the hold", waiting)
		}
		return live, nil
	})
}

// waitCopied waits until the mirror's checkpoint of every partition of
// topic is at or past ends.
func (s *Server) waitCopied(ctx context.Context, topic string, ends map[int32]int64) error {
	_, err := poll(ctx, s.store, func(v *View) (struct{}, error) {
		if lag := lagOf(v.Next, topic, ends); lag > 0 {
			s.log.Debug("switch: mirror lag", "topic", topic, "lag", lag)
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
func (s *Server) promotionRecords(topic string, pause time.Duration) []*kgo.Record {
	now := time.Now()
	p, err := state.PromotedRecord("", state.Promoted{Topic: topic, Time: now})
	if err != nil {
		panic(err) // a plain struct always encodes
	}
	e, err := state.EventRecord("", state.Event{
		Time: now, Action: "promote",
		Detail: fmt.Sprintf("%s through gateway %s; writes paused %s", topic, s.id, pause.Round(time.Millisecond)),
	})
	if err != nil {
		panic(err)
	}
	return []*kgo.Record{p, e, tombstone(keyGateway + "/hold/" + topic)}
}

// withdraw deletes this gateway's hold of topic after an aborted switch,
// with its own bound: the switch's context may be what ended.
func (s *Server) withdraw(topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.PollInterval*3)
	defer cancel()
	if err := s.store.Write(ctx, tombstone(keyGateway+"/hold/"+topic)); err != nil {
		s.log.Warn("could not withdraw the hold; other gateways release it at its deadline", "topic", topic, "err", err)
	}
}

func nonce() string {
	var b [8]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
