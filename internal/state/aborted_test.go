package state_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
)

// A killed mirror leaves a transaction of state records that was flushed
// and then aborted. Load ignores it even through a broker that leaves the
// aborted-transactions list out of its fetch responses: it reads the
// transaction markers, not the list (the partread rule).
func TestLoadIgnoresAbortedWithoutAbortedList(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	topic := state.TopicName("m1")
	if _, err := state.Ensure(t.Context(), kadm.NewClient(c.Client(t)), topic, -1); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	tp := state.TopicPartition{Topic: "orders", Partition: 0}
	rec := func(r *kgo.Record, err error) *kgo.Record {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	txn := func(commit bool, recs ...*kgo.Record) {
		t.Helper()
		cl := c.Client(t, kgo.TransactionalID("kmigrate-m1"))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(t.Context(), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	good := state.Checkpoint{Next: 10, TargetNext: 12, Records: 10, Updated: now}
	txn(true,
		rec(state.MetaRecord(topic, state.Meta{Migration: "m1", SourceClusterID: "src", TargetClusterID: "tgt", Created: now})),
		rec(state.CheckpointRecord(topic, tp, good)),
		state.OffsetMapRecord(topic, tp, 0, []byte{1, 2, 3}))
	// The killed mirror's transaction: flushed (ProduceSync), then aborted.
	txn(false,
		rec(state.CheckpointRecord(topic, tp, state.Checkpoint{Next: 999, TargetNext: 1001, Records: 999, Updated: now})),
		state.OffsetMapRecord(topic, tp, 0, []byte{9, 9, 9}),
		state.OffsetMapRecord(topic, tp, 256, []byte{9}))
	// A plain record after it (a cutover fact) is read.
	c.Produce(t, rec(state.HeartbeatRecord(topic, state.Heartbeat{Host: "h", PID: 7, Time: now})))

	fd := kafkatest.NewFaultDialer()
	fd.OmitAbortedTransactions()
	opts, err := cluster.Opts(&c.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := state.Load(t.Context(), kadm.NewClient(c.Client(t)), topic, append(opts, kgo.Dialer(fd.DialContext)))
	if err != nil {
		t.Fatal(err)
	}
	good.Version = state.Version
	if got := snap.Checkpoints; len(got) != 1 || got[tp] != good {
		t.Errorf("checkpoints = %+v, want only %v at %+v", got, tp, good)
	}
	if segs := snap.Segments[tp]; len(segs) != 1 || string(segs[0]) != "\x01\x02\x03" {
		t.Errorf("segments = %v, want only 0: [1 2 3]", segs)
	}
	if h := snap.Heartbeat; h == nil || h.PID != 7 {
		t.Errorf("heartbeat = %+v, want pid 7", h)
	}
	if snap.Meta == nil || snap.Meta.SourceClusterID != "src" {
		t.Errorf("meta = %+v", snap.Meta)
	}
	if fd.AbortedListsStripped() == 0 {
		t.Error("no aborted list was stripped: the broker condition was not simulated")
	}
}
