package status

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/units"
)

// Unit is one work unit of a migration divided into units (mirror
// --units; docs/scaling.md): who copies it, as its last heartbeat says,
// and how far behind it is.
type Unit struct {
	Unit int `json:"unit"`
	// Owner is the process whose heartbeat for the unit is newest
	// ("pid@host"): a unit's owner writes one before it fences the
	// previous owner. "" when the unit never had one.
	Owner string `json:"owner"`
	// LastSeen is the newest of that heartbeat and the unit's checkpoints.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Running is true when LastSeen is recent (within StaleAfter).
	Running bool `json:"running"`
	// Partitions counts the mirrored source partitions of the unit.
	Partitions int `json:"partitions"`
	// Lag sums the unit's partitions' lag, -1 when the source was not
	// read.
	Lag int64 `json:"lag"`
	// CopyRate is source offsets handled per second over the sample (the
	// checkpoints' advance), 0 without a sample.
	CopyRate float64 `json:"copy_rate"`
}

// Member is one mirror process of a scaled-out migration: the units whose
// newest heartbeat it wrote.
type Member struct {
	Owner    string    `json:"owner"`
	Units    []int     `json:"units"`
	LastSeen time.Time `json:"last_seen"`
	Running  bool      `json:"running"`
	// Lag and CopyRate sum its units' (Lag -1 when unknown).
	Lag      int64   `json:"lag"`
	CopyRate float64 `json:"copy_rate"`
}

// unitsStatus fills m's units and members from the state (the meta's unit
// count and each unit's heartbeat) and the topics' partitions. before and
// after are the state read before and after a sample of length sample (the
// same snapshot without one). A migration of one unit has neither.
func unitsStatus(m *Mirror, before, after *state.Snapshot, topics []Topic, sample time.Duration, o Options) {
	if after.Meta == nil || after.Meta.Units < 2 {
		return
	}
	n := after.Meta.Units
	m.Units = n
	list := make([]Unit, n)
	for u := range list {
		list[u].Unit = u
		if h, ok := after.UnitHeartbeats[u]; ok {
			list[u].Owner = fmt.Sprintf("%d@%s", h.PID, h.Host)
			list[u].LastSeen = h.Time
		}
	}
	for _, t := range topics {
		for _, p := range t.Partitions {
			u := &list[units.Of(t.Source, p.Partition, n)]
			u.Partitions++
			switch {
			case p.Lag < 0 || u.Lag < 0:
				u.Lag = -1
			default:
				u.Lag += p.Lag
			}
			tp := state.TopicPartition{Topic: t.Source, Partition: p.Partition}
			// A busy unit commits checkpoints instead of heartbeats.
			if c, ok := after.Checkpoints[tp]; ok && u.Owner != "" && c.Updated.After(u.LastSeen) {
				u.LastSeen = c.Updated
			}
			if sample > 0 {
				if b, ok := before.Checkpoints[tp]; ok {
					u.CopyRate += float64(after.Checkpoints[tp].Next-b.Next) / sample.Seconds()
				}
			}
		}
	}
	for u := range list {
		list[u].Running = !list[u].LastSeen.IsZero() && o.Now().Sub(list[u].LastSeen) <= o.StaleAfter
	}
	m.UnitList = list
	m.Members = members(list)
}

// members groups units by owner, the most recently seen first.
func members(list []Unit) []Member {
	by := map[string]*Member{}
	for _, u := range list {
		if u.Owner == "" {
			continue
		}
		mb := by[u.Owner]
		if mb == nil {
			mb = &Member{Owner: u.Owner}
			by[u.Owner] = mb
		}
		mb.Units = append(mb.Units, u.Unit)
		if u.LastSeen.After(mb.LastSeen) {
			mb.LastSeen = u.LastSeen
		}
		mb.Running = mb.Running || u.Running
		if u.Lag < 0 || mb.Lag < 0 {
			mb.Lag = -1
		} else {
			mb.Lag += u.Lag
		}
		mb.CopyRate += u.CopyRate
	}
	out := make([]Member, 0, len(by))
	for _, mb := range by {
		out = append(out, *mb)
	}
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), cmp.Compare(a.Owner, b.Owner))
	})
	return out
}
