package status

import (
	"reflect"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/units"
)

// TestUnitsStatus: a migration of 3 units over one topic of 6 partitions
// (two per unit by the rule), unit 0 and 1 owned by process 1 on a,
// unit 2 last owned by process 2 on b, which stopped long ago: units,
// members, lags and copy rates summed exactly.
func TestUnitsStatus(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	o := Options{StaleAfter: 30 * time.Second, Now: func() time.Time { return now }}
	const topic = "orders"
	before, after := state.Snapshot{Checkpoints: map[state.TopicPartition]state.Checkpoint{}},
		state.Snapshot{Meta: &state.Meta{Units: 3}, Checkpoints: map[state.TopicPartition]state.Checkpoint{},
			UnitHeartbeats: map[int]state.Heartbeat{
				0: {Host: "a", PID: 1, Time: now.Add(-time.Minute)},
				1: {Host: "a", PID: 1, Time: now.Add(-2 * time.Second)},
				2: {Host: "b", PID: 2, Time: now.Add(-time.Hour)},
			}}
	tp := Topic{Source: topic}
	wantLag := map[int]int64{}
	wantRate := map[int]float64{}
	for p := range int32(6) {
		u := units.Of(topic, p, 3)
		k := state.TopicPartition{Topic: topic, Partition: p}
		before.Checkpoints[k] = state.Checkpoint{Next: 100}
		// Unit 0's partitions committed 5 s ago: it is running although
		// its heartbeat is a minute old (busy units commit, not beat).
		upd := now.Add(-time.Hour)
		if u == 0 {
			upd = now.Add(-5 * time.Second)
		}
		after.Checkpoints[k] = state.Checkpoint{Next: 100 + 10*int64(p), Updated: upd}
		tp.Partitions = append(tp.Partitions, Partition{Partition: p, Lag: int64(p)})
		wantLag[u] += int64(p)
		wantRate[u] += float64(10*p) / 2
	}
	var m Mirror
	unitsStatus(&m, &before, &after, []Topic{tp}, 2*time.Second, o)
	want := []Unit{
		{Unit: 0, Owner: "1@a", LastSeen: now.Add(-5 * time.Second), Running: true, Partitions: 2, Lag: wantLag[0], CopyRate: wantRate[0]},
		{Unit: 1, Owner: "1@a", LastSeen: now.Add(-2 * time.Second), Running: true, Partitions: 2, Lag: wantLag[1], CopyRate: wantRate[1]},
		{Unit: 2, Owner: "2@b", LastSeen: now.Add(-time.Hour), Running: false, Partitions: 2, Lag: wantLag[2], CopyRate: wantRate[2]},
	}
	if m.Units != 3 || !reflect.DeepEqual(m.UnitList, want) {
		t.Fatalf("units %d\n%+v\nwant\n%+v", m.Units, m.UnitList, want)
	}
	wantMembers := []Member{
		{Owner: "1@a", Units: []int{0, 1}, LastSeen: now.Add(-2 * time.Second), Running: true, Lag: wantLag[0] + wantLag[1], CopyRate: wantRate[0] + wantRate[1]},
		{Owner: "2@b", Units: []int{2}, LastSeen: now.Add(-time.Hour), Running: false, Lag: wantLag[2], CopyRate: wantRate[2]},
	}
	if !reflect.DeepEqual(m.Members, wantMembers) {
		t.Fatalf("members\n%+v\nwant\n%+v", m.Members, wantMembers)
	}

	// Without the source a partition's lag is -1: so is its unit's and
	// its member's.
	tp.Partitions[0].Lag = -1
	m = Mirror{}
	unitsStatus(&m, &after, &after, []Topic{tp}, 0, o)
	u0 := units.Of(topic, 0, 3)
	if m.UnitList[u0].Lag != -1 || m.UnitList[u0].CopyRate != 0 {
		t.Fatalf("unit %d without the source: %+v", u0, m.UnitList[u0])
	}

	// One unit: nothing.
	m = Mirror{}
	unitsStatus(&m, &before, &state.Snapshot{Meta: &state.Meta{}}, []Topic{tp}, 0, o)
	if m.Units != 0 || m.UnitList != nil || m.Members != nil {
		t.Fatalf("one unit: %+v", m)
	}
}
