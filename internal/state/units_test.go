package state_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
)

func TestUnitTransactionalID(t *testing.T) {
	for _, tt := range []struct {
		unit, n int
		want    string
	}{
		{0, 0, "kmigrate-m1"},
		{0, 1, "kmigrate-m1"},
		{0, 4, "kmigrate-m1-unit-0"},
		{3, 4, "kmigrate-m1-unit-3"},
	} {
		if got := state.UnitTransactionalID("m1", tt.unit, tt.n); got != tt.want {
			t.Errorf("UnitTransactionalID(m1, %d, %d) = %q, want %q", tt.unit, tt.n, got, tt.want)
		}
	}
}

// TestUnitsState: the unit count is kept in the meta (version 2 when above
// 1, version 1 otherwise) and unit heartbeats are read per unit.
func TestUnitsState(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	topic := state.TopicName("m1")
	c.CreateTopic(t, topic, 1, nil)
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	must := func(r *kgo.Record, err error) *kgo.Record {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	meta := state.Meta{Migration: "m1", SourceClusterID: "src", TargetClusterID: "tgt", Created: now, Topics: map[string]string{"a": "a"}}
	c.Produce(t, must(state.MetaRecord(topic, meta)))
	snap, err := load(t, c, topic)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Meta.Version != 1 || snap.Meta.Units != 0 {
		t.Errorf("meta without units: version %d units %d, want 1 and 0", snap.Meta.Version, snap.Meta.Units)
	}
	meta.Units = 8
	c.Produce(t, must(state.MetaRecord(topic, meta)),
		must(state.UnitHeartbeatRecord(topic, 3, state.Heartbeat{Host: "h", PID: 7, Time: now})),
		must(state.UnitHeartbeatRecord(topic, 5, state.Heartbeat{Host: "h", PID: 8, Time: now})),
		&kgo.Record{Topic: topic, Key: []byte("unitheartbeat/5")}, // tombstone
	)
	if snap, err = load(t, c, topic); err != nil {
		t.Fatal(err)
	}
	if snap.Meta.Version != state.MetaVersionUnits || snap.Meta.Units != 8 {
		t.Errorf("meta with units: version %d units %d, want %d and 8", snap.Meta.Version, snap.Meta.Units, state.MetaVersionUnits)
	}
	if len(snap.UnitHeartbeats) != 1 || snap.UnitHeartbeats[3] != (state.Heartbeat{Version: 1, Host: "h", PID: 7, Time: now}) {
		t.Errorf("unit heartbeats = %+v, want only unit 3", snap.UnitHeartbeats)
	}
	if snap.Heartbeat != nil {
		t.Errorf("heartbeat = %+v, want none", snap.Heartbeat)
	}
}
