package mirror

import (
	"slices"
	"sync"
	"time"

	"github.com/kmigrate/kmigrate/internal/state"
)

// PartitionStats is one source partition's progress.
type PartitionStats struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	TargetTopic string `json:"target_topic"`
	// Next is the next source offset to copy (committed on the target).
	Next int64 `json:"next"`
	// End is the source offset a bounded copy stops at, -1 when mirroring
	// continuously.
	End int64 `json:"end"`
	// HighWatermark is the source end offset last seen.
	HighWatermark int64 `json:"high_watermark"`
	// Lag is HighWatermark - Next, never negative.
	Lag int64 `json:"lag"`
	// Records and Bytes count what this run copied.
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	// AbortedDropped counts records of aborted source transactions the
	// source delivered anyway and the mirror dropped by their markers.
	AbortedDropped int64 `json:"aborted_dropped,omitempty"`
	// Stopped says why copying this partition stopped, if it did.
	Stopped string `json:"stopped,omitempty"`
}

// ExpiredRange is a source range that was gone before it could be copied.
type ExpiredRange struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	From      int64  `json:"from"`
	Until     int64  `json:"until"`
	Count     int64  `json:"count"`
}

// Stats is a snapshot of a mirror's progress.
type Stats struct {
	Migration    string    `json:"migration"`
	Started      time.Time `json:"started"`
	Records      int64     `json:"records"`
	Bytes        int64     `json:"bytes"`
	Transactions int64     `json:"transactions"`
	Sessions     int64     `json:"sessions"`
	Errors       int64     `json:"errors"`
	// AbortedDropped: PartitionStats.AbortedDropped over all partitions.
	AbortedDropped int64            `json:"aborted_dropped,omitempty"`
	LastError      string           `json:"last_error,omitempty"`
	Ready          bool             `json:"ready"`
	Done           bool             `json:"done"`
	Partitions     []PartitionStats `json:"partitions"`
	Expired        []ExpiredRange   `json:"expired"`
	// Units are this process's work units (Pool, for a migration divided
	// into units; empty for one unit).
	Units []UnitStats `json:"units,omitempty"`
}

// UnitStats is one work unit a Pool ran: whether it runs now, and its
// partitions' lag and copied records (this process's runs).
type UnitStats struct {
	Unit    int   `json:"unit"`
	Running bool  `json:"running"`
	Lag     int64 `json:"lag"`
	Records int64 `json:"records"`
}

// Remaining returns the records left to copy for a bounded copy (offsets,
// an upper bound when the source has gaps), and the total to copy.
func (s *Stats) Remaining() (left, total int64) {
	for _, p := range s.Partitions {
		if p.End < 0 {
			return -1, -1
		}
		if p.Stopped == "" {
			left += max(0, p.End-p.Next)
		}
	}
	return left, left + s.Records
}

// stats is the shared, locked progress of a Mirror. It is updated once per
// transaction, so the lock is not on the per-record path.
type stats struct {
	mu sync.Mutex
	s  Stats
	// index maps a partition to its entry in s.Partitions.
	index map[state.TopicPartition]int
}

func newStats(name string) *stats {
	return &stats{s: Stats{Migration: name, Started: time.Now(), Partitions: []PartitionStats{}, Expired: []ExpiredRange{}}, index: map[state.TopicPartition]int{}}
}

func (st *stats) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := st.s
	out.Partitions = slices.Clone(st.s.Partitions)
	out.Expired = slices.Clone(st.s.Expired)
	return out
}

func (st *stats) update(fn func(s *Stats, part func(tp state.TopicPartition) *PartitionStats)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	fn(&st.s, func(tp state.TopicPartition) *PartitionStats {
		i, ok := st.index[tp]
		if !ok {
			i = len(st.s.Partitions)
			st.index[tp] = i
			st.s.Partitions = append(st.s.Partitions, PartitionStats{Topic: tp.Topic, Partition: tp.Partition, End: -1})
		}
		return &st.s.Partitions[i]
	})
}

// countCommitted makes the records counted match what the checkpoints say
// this Run committed, at the start of each session (parts as loaded). A
// commit whose answer was lost (the connection dropped after the broker
// wrote the markers) failed its session without being counted, though its
// records are on the target and the next session resumes after them.
// Bytes of such a commit stay uncounted.
func (m *Mirror) countCommitted(parts []*part) {
	m.stats.update(func(st *Stats, get func(state.TopicPartition) *PartitionStats) {
		for _, p := range parts {
			base, ok := m.base[p.tp]
			if !ok {
				m.base[p.tp] = p.records // before this Run (0 for a new partition)
				continue
			}
			ps := get(p.tp)
			if missed := p.records - base - ps.Records; missed > 0 {
				ps.Records += missed
				st.Records += missed
			}
		}
	})
}
