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

func TestCutoverState(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	topic := state.TopicName("m1")
	cl := c.Client(t)
	if _, err := state.Ensure(t.Context(), kadm.NewClient(cl), topic, -1); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	must := func(r *kgo.Record, err error) *kgo.Record {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	recs := []*kgo.Record{
		must(state.EventRecord(topic, state.Event{Time: t0.Add(2 * time.Second), Action: "promote", Detail: "orders"})),
		must(state.EventRecord(topic, state.Event{Time: t0, Action: "groups migrate", Detail: "billing"})),
		must(state.SwitchedRecord(topic, state.Switched{Group: "billing/eu", Time: t0, How: "migrated"})),
		must(state.PromotedRecord(topic, state.Promoted{Topic: "orders", Time: t0.Add(2 * time.Second), Forced: true, Unmet: []string{"lag 3"}})),
		must(state.PromotedRecord(topic, state.Promoted{Topic: "payments", Time: t0})),
		must(state.PhaseRecord(topic, state.Phase{Phase: state.PhaseConsumers, Time: t0})),
		must(state.PhaseRecord(topic, state.Phase{Phase: state.PhasePromote, Time: t0.Add(2 * time.Second)})),
		{Topic: topic, Key: []byte("promoted/payments")}, // a tombstone: un-promoted
	}
	if err := state.Write(t.Context(), cl, recs...); err != nil {
		t.Fatal(err)
	}
	snap, err := load(t, c, topic)
	if err != nil {
		t.Fatal(err)
	}
	wantPromoted := map[string]state.Promoted{"orders": {Version: state.Version, Topic: "orders", Time: t0.Add(2 * time.Second), Forced: true, Unmet: []string{"lag 3"}}}
	wantSwitched := map[string]state.Switched{"billing/eu": {Version: state.Version, Group: "billing/eu", Time: t0, How: "migrated"}}
	wantEvents := []state.Event{
		{Version: state.Version, Time: t0, Action: "groups migrate", Detail: "billing"},
		{Version: state.Version, Time: t0.Add(2 * time.Second), Action: "promote", Detail: "orders"},
	}
	wantPhase := &state.Phase{Version: state.Version, Phase: state.PhasePromote, Time: t0.Add(2 * time.Second)}
	if !reflect.DeepEqual(snap.Promoted, wantPromoted) || !reflect.DeepEqual(snap.Switched, wantSwitched) ||
		!reflect.DeepEqual(snap.Events, wantEvents) || !reflect.DeepEqual(snap.Phase, wantPhase) {
		t.Errorf("got promoted %+v switched %+v events %+v phase %+v", snap.Promoted, snap.Switched, snap.Events, snap.Phase)
	}
}
