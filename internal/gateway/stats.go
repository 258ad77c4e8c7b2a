package gateway

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the gateway's counters since it started, for /metrics and
// status.
type Stats struct {
	Connections int64
	// Requests counts requests by API key.
	Requests map[int16]int64
	// SourceRecords and TargetRecords count records written upstream.
	SourceRecords, TargetRecords int64
	// Duplicates counts client retries answered from a batch already
	// written (or rejected as older than the remembered ones).
	Duplicates int64
	// HeldTimeouts counts writes answered REQUEST_TIMED_OUT because a
	// switch held them past HoldTimeout.
	HeldTimeouts int64
	// LeaseRefusals counts writes answered NOT_LEADER_OR_FOLLOWER
	// because this gateway's last state read was too old to write to
	// the source safely.
	LeaseRefusals int64
	// Pauses is the measured pause of each switch made by this gateway.
	Pauses map[string]time.Duration
	// Aborted counts aborted switches by topic.
	Aborted map[string]int
	// StateRead is when the gateway last heartbeat and read the
	// migration's state (zero before the first time); StateError is why
	// the last attempt failed, empty if it succeeded. A gateway that
	// cannot read the state keeps serving reads and target writes, and
	// stops writing to the source once its lease runs out.
	StateRead  time.Time
	StateError string
}

type stats struct {
	connections, sourceRecords, targetRecords, duplicates, heldTimeouts, leaseRefusals atomic.Int64

	mu       sync.Mutex
	stateErr string
	requests map[int16]int64
	pauses   map[string]time.Duration
	aborted  map[string]int
}

func newStats() *stats {
	return &stats{requests: map[int16]int64{}, pauses: map[string]time.Duration{}, aborted: map[string]int{}}
}

func (s *stats) request(key int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[key]++
}

func (s *stats) produced(side Side, n int) {
	if side == Target {
		s.targetRecords.Add(int64(n))
		return
	}
	s.sourceRecords.Add(int64(n))
}

func (s *stats) switched(topic string, pause time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pauses[topic] = pause
}

func (s *stats) switchAborted(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted[topic]++
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	st := s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	return Stats{
		Connections: st.connections.Load(), Requests: maps.Clone(st.requests),
		SourceRecords: st.sourceRecords.Load(), TargetRecords: st.targetRecords.Load(),
		Duplicates: st.duplicates.Load(), HeldTimeouts: st.heldTimeouts.Load(), LeaseRefusals: st.leaseRefusals.Load(),
		Pauses: maps.Clone(st.pauses), Aborted: maps.Clone(st.aborted),
		StateRead: s.stateRead(), StateError: st.stateErr,
	}
}

func (s *stats) syncDone(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stateErr = ""
	if err != nil {
		s.stateErr = err.Error()
	}
}

func (s *Server) stateRead() time.Time {
	if n := s.lastRead.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Route returns the side topic's writes go to now.
func (s *Server) Route(topic string) (Side, bool) {
	r, ok := s.routes[topic]
	if !ok {
		return 0, false
	}
	return r.current(), true
}

// Routes returns where each topic's writes go now, by source name.
func (s *Server) Routes() map[string]Side {
	out := make(map[string]Side, len(s.routes))
	for t, r := range s.routes {
		out[t] = r.current()
	}
	return out
}
