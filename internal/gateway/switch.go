package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/state"
)

// Sentinels of a switch.
var (
	// ErrUnknownTopic: the topic is not served by this gateway.
	ErrUnknownTopic = errors.New("topic not served by the gateway")
	// ErrNotOnSource: the topic is already switched or switching.
	ErrNotOnSource = errors.New("topic is not routed to the source")
	// ErrSwitchAborted: the switch did not finish (its bound passed or
	// a step failed); writes resumed to the source.
	ErrSwitchAborted = errors.New("switch aborted; writes resumed to the source")
)

// lagCheckInterval is how often a switch re-reads the mirror's
// checkpoints while it waits for them to reach the source's end.
const lagCheckInterval = 100 * time.Millisecond

// Switch is the outcome of a promotion through the gateway.
type Switch struct {
	Topic string
	// Pause is how long writes to the topic were held: from the hold to
	// the route to the target.
	Pause time.Duration
	// Ends are the source end offsets the mirror had to reach, by
	// partition.
	Ends map[int32]int64
}

// Promote switches topic's writes from the source to the target without
// losing, duplicating or reordering one: it holds new writes, waits for
// the writes in flight to be acknowledged by the source, waits until the
// mirror's checkpoints reach the source's end offsets (lag zero, read
// from the state), records the promotion in the state (the mirror stops
// copying the topic and other gateways follow), and routes the held and
// later writes to the target. If that does not finish within
// SwitchTimeout, the hold is lifted and writes resume to the source
// (ErrSwitchAborted).
func (s *Server) Promote(ctx context.Context, topic string) (*Switch, error) {
	route, ok := s.routes[topic]
	if !ok {
		return nil, fmt.Errorf("promote %q: %w", topic, ErrUnknownTopic)
	}
	drained, err := route.hold()
	if err != nil {
		return nil, fmt.Errorf("promote %q: %w", topic, err)
	}
	start := time.Now()
	s.log.Info("switch: holding writes", "topic", topic)
	sw, err := s.drain(ctx, topic, drained, start)
	if err != nil {
		route.set(Source)
		s.stats.switchAborted(topic)
		s.log.Warn("switch aborted; writes resume to the source", "topic", topic, "held", time.Since(start), "err", err)
		return nil, fmt.Errorf("promote %q: %w: %w", topic, ErrSwitchAborted, err)
	}
	route.set(Target)
	sw.Pause = time.Since(start)
	s.stats.switched(topic, sw.Pause)
	s.log.Info("switch: writes go to the target", "topic", topic, "pause", sw.Pause)
	return sw, nil
}

// drain is the part of a switch that may fail: in-flight writes, lag,
// record.
func (s *Server) drain(ctx context.Context, topic string, drained <-chan struct{}, start time.Time) (*Switch, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.SwitchTimeout)
	defer cancel()
	select {
	case <-drained:
	case <-ctx.Done():
		return nil, fmt.Errorf("writes in flight: %w", ctx.Err())
	}
	s.log.Debug("switch: writes in flight acknowledged", "topic", topic)
	listed, err := s.src.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("source end offsets: %w", err)
	}
	if err := listed.Error(); err != nil {
		return nil, fmt.Errorf("source end offsets: %w", err)
	}
	sw := &Switch{Topic: topic, Ends: map[int32]int64{}}
	listed.Each(func(o kadm.ListedOffset) { sw.Ends[o.Partition] = o.Offset })
	if err := s.waitCopied(ctx, topic, sw.Ends); err != nil {
		return nil, err
	}
	if err := s.store.Promote(ctx, topic, time.Since(start)); err != nil {
		return nil, fmt.Errorf("record the promotion: %w", err)
	}
	return sw, nil
}

// waitCopied waits until the mirror's checkpoint of every partition of
// topic is at or past ends.
func (s *Server) waitCopied(ctx context.Context, topic string, ends map[int32]int64) error {
	t := time.NewTicker(lagCheckInterval)
	defer t.Stop()
	for {
		snap, err := s.store.Load(ctx)
		if err != nil {
			return fmt.Errorf("read mirror checkpoints: %w", err)
		}
		lag := lagOf(snap, topic, ends)
		s.log.Debug("switch: mirror lag", "topic", topic, "lag", lag)
		if lag == 0 {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("mirror lag of %d records did not reach zero: %w", lag, ctx.Err())
		}
	}
}

// lagOf is how many source records below ends the mirror has not
// copied, by its checkpoints.
func lagOf(snap *state.Snapshot, topic string, ends map[int32]int64) int64 {
	var lag int64
	for p, end := range ends {
		next := snap.Checkpoints[state.TopicPartition{Topic: topic, Partition: p}].Next
		lag += max(0, end-next)
	}
	return lag
}

// Sync reads the store once and routes every topic it records as
// promoted to the target: promotions made by another gateway or by
// kmigrate promote. A topic never moves back on its own.
func (s *Server) Sync(ctx context.Context) error {
	snap, err := s.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("gateway: read routing: %w", err)
	}
	for topic := range snap.Promoted {
		route, ok := s.routes[topic]
		if !ok || route.current() != Source {
			continue
		}
		route.set(Target)
		s.log.Info("topic promoted elsewhere; writes go to the target", "topic", topic)
	}
	return nil
}

// poll runs Sync every PollInterval until ctx ends; a failed read is
// logged and the routing kept.
func (s *Server) poll(ctx context.Context) {
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("routing read failed; keeping the current routes", "err", err)
		}
	}
}
