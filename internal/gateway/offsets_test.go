package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConsumerAcrossSwitch: a consumer reading through the gateway keeps
// its position across a switch. The topic has one offset space through
// the gateway: produce answers, fetches and listed offsets continue from
// the source's end, partition by partition, with no gap and no copy read
// twice.
func TestConsumerAcrossSwitch(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	startMirror(t, pair, name, topic)
	gw := startGateway(t, pair, gatewayOptions(t, pair, name, topic))
	cl := client(t, gw)
	cons := client(t, gw, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))

	produceSync(t, cl, topic, 0, 150)
	got := poll(t, cons, 150)
	if _, err := gw.Promote(t.Context(), topic); err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for i := 150; i < 300; i++ {
		rs = append(rs, rec(topic, i))
	}
	if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if want := int64((150 + i) / 3); r.Offset != want {
			t.Fatalf("record %d acknowledged at offset %d, want %d", 150+i, r.Offset, want)
		}
	}
	got = append(got, poll(t, cons, 150)...)
	assertValues(t, "consumed across the switch", got, 0, 300, -1)
	for _, r := range got {
		if want := int64(mustAtoi(t, r.Value) / 3); r.Offset != want {
			t.Errorf("record %s read at offset %d, want %d", r.Value, r.Offset, want)
		}
	}
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		e, _ := ends.Lookup(topic, p)
		s, _ := starts.Lookup(topic, p)
		if e.Offset != 100 || s.Offset != 0 || e.Err != nil || s.Err != nil {
			t.Errorf("partition %d through the gateway: start %d (%v), end %d (%v); want 0, 100", p, s.Offset, s.Err, e.Offset, e.Err)
		}
	}
}

// poll reads n records with cons.
func poll(t *testing.T, cons *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", len(out), n, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		t.Fatalf("read %d records, want %d", len(out), n)
	}
	return out
}

// TestGroupAcrossSwitch: a consumer group reading through the gateway
// keeps reading across a switch, every record once, and commits offsets
// (on the source's coordinator, in the gateway's offset space) that a
// restarted member resumes from exactly.
func TestGroupAcrossSwitch(t *testing.T) {
	const name, topic, group = "m1", "orders", "app"
	pair := newPair(t, topic, 3)
	startMirror(t, pair, name, topic)
	gw := startGateway(t, pair, gatewayOptions(t, pair, name, topic))
	cl := client(t, gw)
	member := func() *kgo.Client {
		return client(t, gw, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	}
	cons := member()
	produceSync(t, cl, topic, 0, 150)
	got := poll(t, cons, 150)
	if _, err := gw.Promote(t.Context(), topic); err != nil {
		t.Fatal(err)
	}
	produceSync(t, cl, topic, 150, 300)
	got = append(got, poll(t, cons, 150)...)
	assertValues(t, "the group across the switch", got, 0, 300, -1)
	if err := cons.CommitRecords(t.Context(), got...); err != nil {
		t.Fatal(err)
	}
	cons.Close()

	produceSync(t, cl, topic, 300, 330)
	again := poll(t, member(), 30)
	assertValues(t, "a restarted member", again, 300, 330, -1)
	committed := pair.Source.CommittedOffsets(t, group)[topic]
	if committed[0] != 100 || committed[1] != 100 || committed[2] != 100 {
		t.Errorf("offsets committed on the source: %v, want 100 per partition", committed)
	}
}
