package state_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
)

// The last verify summary written is the one Load returns; a tombstone
// removes it.
func TestVerifiedState(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	topic := state.TopicName("m1")
	cl := c.Client(t)
	if _, err := state.Ensure(t.Context(), kadm.NewClient(cl), topic, -1); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	first := state.Verified{Time: t0, Mode: "sample", Sample: 100, OK: false, Partitions: 3, FailedPartitions: 1, Problems: 2}
	second := state.Verified{Time: t0.Add(time.Minute), Host: "ops-1", Mode: "full", OK: true, Seconds: 1.5,
		Partitions: 3, SourceRecords: 1200, Matched: 1200, GroupsChecked: 1}
	for _, v := range []state.Verified{first, second} {
		r, err := state.VerifiedRecord(topic, v)
		if err != nil {
			t.Fatal(err)
		}
		if err := state.Write(t.Context(), cl, r); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := load(t, c, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := second
	want.Version = state.Version
	if !reflect.DeepEqual(snap.Verified, &want) {
		t.Errorf("Verified = %+v, want %+v", snap.Verified, want)
	}
	if err := state.Write(t.Context(), cl, &kgo.Record{Topic: topic, Key: []byte("verify")}); err != nil {
		t.Fatal(err)
	}
	if snap, err = load(t, c, topic); err != nil || snap.Verified != nil {
		t.Errorf("after a tombstone: Verified = %+v, %v; want nil", snap.Verified, err)
	}
}
