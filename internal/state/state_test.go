package state_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
)

func load(t *testing.T, c *kafkatest.Cluster, topic string) (*state.Snapshot, error) {
	t.Helper()
	opts, err := cluster.Opts(&c.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	return state.Load(t.Context(), kadm.NewClient(c.Client(t)), topic, opts)
}

func TestEnsureAndLoad(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	topic := state.TopicName("m1")
	if topic != "__kmigrate-m1" {
		t.Fatalf("TopicName = %q", topic)
	}
	if _, err := load(t, c, topic); !errors.Is(err, state.ErrNoState) {
		t.Fatalf("Load before Ensure: %v, want ErrNoState", err)
	}
	adm := kadm.NewClient(c.Client(t))
	if created, err := state.Ensure(t.Context(), adm, topic, -1); err != nil || !created {
		t.Fatalf("Ensure = %v, %v; want created", created, err)
	}
	if created, err := state.Ensure(t.Context(), adm, topic, -1); err != nil || created {
		t.Fatalf("second Ensure = %v, %v; want exists", created, err)
	}
	rcs, err := adm.DescribeTopicConfigs(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cleanup.policy": "compact", "retention.ms": "-1", "segment.ms": "3600000"}
	for _, cfg := range rcs[0].Configs {
		if w, ok := want[cfg.Key]; ok {
			if cfg.Value == nil || *cfg.Value != w {
				t.Errorf("%s = %v, want %s", cfg.Key, cfg.Value, w)
			}
			delete(want, cfg.Key)
		}
	}
	if len(want) > 0 {
		t.Errorf("state topic configs lack %v", want)
	}
	if snap, err := load(t, c, topic); err != nil || snap.Meta != nil || len(snap.Checkpoints) != 0 {
		t.Fatalf("empty state: %+v, %v", snap, err)
	}

	must := func(r *kgo.Record, err error) *kgo.Record {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	orders0 := state.TopicPartition{Topic: "orders", Partition: 0}
	orders1 := state.TopicPartition{Topic: "orders", Partition: 1}
	recs := []*kgo.Record{
		must(state.MetaRecord(topic, state.Meta{Migration: "m1", SourceClusterID: "src", TargetClusterID: "tgt", Created: now, Guarantee: "exactly-once", TracingHeaders: true, Topics: map[string]string{"orders": "old.orders"}})),
		must(state.CheckpointRecord(topic, orders0, state.Checkpoint{Next: 10, TargetNext: 11, Records: 10, Updated: now})),
		must(state.CheckpointRecord(topic, orders0, state.Checkpoint{Next: 20, TargetNext: 22, Records: 20, Updated: now})),
		must(state.CheckpointRecord(topic, orders1, state.Checkpoint{Next: 5, TargetNext: 5, Records: 5, Updated: now})),
		{Topic: topic, Key: []byte("checkpoint/orders/1")}, // tombstone
		state.OffsetMapRecord(topic, orders0, 0, []byte{1, 2, 3}),
		state.OffsetMapRecord(topic, orders0, 0, []byte{1, 2, 3, 4}),
		state.OffsetMapRecord(topic, orders0, 100, []byte{9}),
		must(state.ExpiredRecord(topic, orders0, state.Expired{From: 0, Until: 3, Reason: "retention", Detected: now})),
		must(state.HeartbeatRecord(topic, state.Heartbeat{Host: "h", PID: 42, Time: now})),
		{Topic: topic, Key: []byte("future-kind/x"), Value: []byte("{}")}, // written by a newer kmigrate
	}
	c.Produce(t, recs...)
	snap, err := load(t, c, topic)
	if err != nil {
		t.Fatal(err)
	}
	m := snap.Meta
	if m == nil || m.Version != state.Version || m.SourceClusterID != "src" || m.Topics["orders"] != "old.orders" || !m.Created.Equal(now) {
		t.Errorf("meta = %+v", m)
	}
	if got := snap.Checkpoints; len(got) != 1 || got[orders0] != (state.Checkpoint{Version: state.Version, Next: 20, TargetNext: 22, Records: 20, Updated: now}) {
		t.Errorf("checkpoints = %+v, want only orders/0 at 20", got)
	}
	if segs := snap.Segments[orders0]; len(segs) != 2 || string(segs[0]) != "\x01\x02\x03\x04" || string(segs[100]) != "\x09" {
		t.Errorf("segments = %v", segs)
	}
	if exp := snap.Expired[orders0]; len(exp) != 1 || exp[0].Count() != 3 || exp[0].Reason != "retention" {
		t.Errorf("expired = %+v", exp)
	}
	if h := snap.Heartbeat; h == nil || h.PID != 42 || h.Host != "h" {
		t.Errorf("heartbeat = %+v", h)
	}
	if tps := snap.Partitions(); len(tps) != 1 || tps[0] != orders0 {
		t.Errorf("Partitions = %v", tps)
	}

	// State from a newer kmigrate is refused, not misread.
	newer := &kgo.Record{Topic: topic, Key: recs[0].Key, Value: []byte(strings.Replace(string(recs[0].Value), `"version":1`, `"version":99`, 1))}
	c.Produce(t, newer)
	if _, err := load(t, c, topic); err == nil || !strings.Contains(err.Error(), "newer kmigrate (version 99, this one reads 2): upgrade kmigrate") {
		t.Errorf("Load of newer state: %v", err)
	}
}
