package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Coordination between the gateways of one migration, through its state
// topic (keys the state package does not know, so it skips them):
//
//	gateway/member/<id>        Member: a gateway's heartbeat, every PollInterval
//	gateway/hold/<topic>       Hold: a switch of topic is draining
//	gateway/held/<topic>/<id>  nonce: gateway id holds topic and drained it
//
// A switch writes the hold, then waits until every live member (a
// heartbeat newer than MemberTimeout) acknowledges it; only then are no
// writes to the topic in flight to the source anywhere, and the mirror's
// lag can be drained. A member stops forwarding writes to the source when
// its last successful read of the state is older than MemberTimeout (its
// lease), so a member cut off from the state cannot keep writing to the
// source while a switch it cannot see proceeds without it.

const keyGateway = "gateway"

// Member is a gateway's heartbeat.
type Member struct {
	ID   string    `json:"id"`
	Addr string    `json:"addr"`
	Time time.Time `json:"time"`
	// TimeoutMillis is the gateway's MemberTimeout: its heartbeat counts
	// as live, and it may write to the source, for that long.
	TimeoutMillis int64 `json:"timeout_ms,omitempty"`
}

// Hold is a switch in progress.
type Hold struct {
	Nonce string    `json:"nonce"`
	By    string    `json:"by"`
	Time  time.Time `json:"time"`
	// Until is when the switch gives up; past it the hold is void.
	Until time.Time `json:"until"`
}

type heldAck struct {
	Nonce string `json:"nonce"`
}

func (v *View) applyGateway(parts []string, value []byte) {
	switch {
	case len(parts) == 2 && parts[0] == "member":
		var m Member
		if value == nil || json.Unmarshal(value, &m) != nil {
			delete(v.Members, parts[1])
			return
		}
		v.Members[parts[1]] = m
	case len(parts) == 2 && parts[0] == "hold":
		var h Hold
		if value == nil || json.Unmarshal(value, &h) != nil {
			delete(v.Holds, parts[1])
			return
		}
		v.Holds[parts[1]] = h
	case len(parts) == 2 && parts[0] == "base":
		var b Base
		if value == nil || json.Unmarshal(value, &b) != nil {
			delete(v.Bases, parts[1])
			return
		}
		v.Bases[parts[1]] = b
	case len(parts) == 3 && parts[0] == "held":
		var a heldAck
		if value == nil || json.Unmarshal(value, &a) != nil {
			delete(v.Held[parts[1]], parts[2])
			return
		}
		if v.Held[parts[1]] == nil {
			v.Held[parts[1]] = map[string]string{}
		}
		v.Held[parts[1]][parts[2]] = a.Nonce
	}
}

func jsonFact(key string, v any) *kgo.Record {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("gateway: encode %s: %v", key, err)) // plain structs always encode
	}
	return &kgo.Record{Key: []byte(key), Value: b}
}

func memberRecord(m Member) *kgo.Record { return jsonFact(keyGateway+"/member/"+m.ID, m) }

func holdRecord(topic string, h Hold) *kgo.Record { return jsonFact(keyGateway+"/hold/"+topic, h) }

func heldRecord(topic, id, nonce string) *kgo.Record {
	return jsonFact(keyGateway+"/held/"+topic+"/"+id, heldAck{Nonce: nonce})
}

func tombstone(key string) *kgo.Record { return &kgo.Record{Key: []byte(key)} }

// live returns the members, other than self, whose heartbeat is newer
// than timeout or than the member's own timeout if longer, sorted.
func (v *View) live(self string, now time.Time, timeout time.Duration) []string {
	var out []string
	for id, m := range v.Members {
		if id != self && now.Sub(m.Time) <= max(timeout, time.Duration(m.TimeoutMillis)*time.Millisecond) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// waitingFor returns the members that have not acknowledged the hold
// nonce of topic.
func (v *View) waitingFor(topic, nonce string, members []string) []string {
	var out []string
	for _, id := range members {
		if v.Held[topic][id] != nonce {
			out = append(out, id)
		}
	}
	return out
}

// apply brings the routes in line with a view: promoted topics go to the
// target; a topic another gateway is switching is held here and, once
// drained, acknowledged; a hold that ended (withdrawn or past its Until)
// releases the topic to the source.
func (s *Server) apply(ctx context.Context, v *View, now time.Time) {
	for topic, route := range s.routes {
		h, holding := v.Holds[topic]
		holding = holding && h.By != s.id && now.Before(h.Until)
		switch {
		case v.Promoted[topic]:
			if b, ok := v.Bases[topic]; ok && s.base(topic) == nil {
				s.setBase(topic, &b)
			}
			if route.current() != Target {
				route.set(Target)
				s.log.Info("topic promoted; writes go to the target", "topic", topic)
			}
		case holding:
			s.holdForRemote(ctx, topic, route, h)
		case route.current() == Holding && s.ownHold(topic) == "":
			route.set(Source)
			s.setRemoteHold(topic, "")
			s.log.Info("switch by another gateway ended; writes resume to the source", "topic", topic)
		}
	}
}

// holdForRemote holds topic for another gateway's switch h (once per
// hold) and acknowledges it once no write here is in flight to the
// source.
func (s *Server) holdForRemote(ctx context.Context, topic string, route *topicRoute, h Hold) {
	if s.remoteHold(topic) == h.Nonce {
		return
	}
	drained, err := route.hold()
	if err != nil {
		return
	}
	s.setRemoteHold(topic, h.Nonce)
	s.log.Info("another gateway is switching the topic; holding writes", "topic", topic, "by", h.By)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-drained:
		case <-ctx.Done():
			return
		}
		if err := s.store.Write(ctx, heldRecord(topic, s.id, h.Nonce)); err != nil {
			s.log.Warn("could not acknowledge a hold; retrying at the next poll", "topic", topic, "err", err)
			s.setRemoteHold(topic, "")
		}
	}()
}

func (s *Server) ownHold(topic string) string {
	s.holdsMu.Lock()
	defer s.holdsMu.Unlock()
	return s.ownHolds[topic]
}

func (s *Server) setOwnHold(topic, nonce string) {
	s.holdsMu.Lock()
	defer s.holdsMu.Unlock()
	s.ownHolds[topic] = nonce
}

func (s *Server) remoteHold(topic string) string {
	s.holdsMu.Lock()
	defer s.holdsMu.Unlock()
	return s.remoteHolds[topic]
}

func (s *Server) setRemoteHold(topic, nonce string) {
	s.holdsMu.Lock()
	defer s.holdsMu.Unlock()
	s.remoteHolds[topic] = nonce
}

// leaseValid says whether this gateway may forward writes to the source:
// its last read of the state is recent enough that no switch can have
// passed it by.
func (s *Server) leaseValid() bool {
	return time.Since(time.Unix(0, s.lastRead.Load())) < s.opts.MemberTimeout-s.opts.PollInterval
}

// Sync heartbeats, reads the state and applies it (see apply). The
// lease is renewed only when both the heartbeat and the read succeed,
// from the heartbeat's time: a gateway that other gateways may count as
// gone must not write to the source.
//
// The heartbeat is written before the read: a switch that does not see
// this heartbeat wrote its hold before it, so the read sees the hold.
func (s *Server) Sync(ctx context.Context) error {
	t0 := time.Now()
	if err := s.store.Write(ctx, memberRecord(Member{ID: s.id, Addr: s.Addr(), Time: t0, TimeoutMillis: s.opts.MemberTimeout.Milliseconds()})); err != nil {
		return fmt.Errorf("gateway: heartbeat: %w", err)
	}
	v, err := s.store.Read(ctx)
	if err != nil {
		return fmt.Errorf("gateway: read routing: %w", err)
	}
	s.lastRead.Store(t0.UnixNano())
	s.apply(ctx, v, time.Now())
	return nil
}

// poll runs Sync now and every PollInterval until ctx ends; a failed
// round is logged and the routes kept (the lease then runs out).
func (s *Server) poll(ctx context.Context) {
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		err := s.Sync(ctx)
		if ctx.Err() != nil {
			return
		}
		s.stats.syncDone(err)
		if err != nil {
			s.log.Warn("state sync failed; keeping the current routes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
