package gateway_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// pyMessages returns messages from..to-1 in the shape of rec.
func pyMessages(topic string, from, to int) []kafkatest.Message {
	var out []kafkatest.Message
	for i := from; i < to; i++ {
		k, v := fmt.Sprintf("k%d", i%7), strconv.Itoa(i)
		out = append(out, kafkatest.Message{Topic: topic, Partition: int32(i % 3), Key: &k, Value: &v})
	}
	return out
}

// TestPythonProducerAcrossPromotion drives confluent-kafka-python
// (librdkafka, idempotent) through the gateway: one producer before the
// promotion, one whose writes the switch holds, one after. Every produce
// call succeeds, and the target holds every record exactly once per
// partition in order, the copies of what reached the source first.
func TestPythonProducerAcrossPromotion(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	startMirror(t, pair, name, topic)
	gw, gated := gatedGateway(t, pair, name, topic)
	py := kafkatest.NewPython(t, &kafkatest.Cluster{Config: config.Cluster{
		Bootstrap: []string{gw.Addr()}, SecurityProtocol: config.Plaintext,
	}})
	produce := func(from, to int) error {
		_, err := py.Produce(t.Context(), pyMessages(topic, from, to))
		return err
	}
	if err := produce(0, 100); err != nil {
		t.Fatal(err)
	}
	pause := heldSwitch(t, gw, gated, topic, func() error { return produce(100, 400) })
	t.Logf("writes paused %v", pause)
	if err := produce(400, 500); err != nil {
		t.Fatal(err)
	}
	assertSwitched(t, pair, topic, 100, 500)

	// A librdkafka consumer group reads through the gateway: the source's
	// records, then the natives, in one offset space, once each.
	msgs, err := py.ConsumeGroup(t.Context(), "py-app", []string{topic}, 500)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32][]string{}
	for _, m := range msgs {
		if want := int64(mustAtoi(t, []byte(*m.Value)) / 3); m.Offset != want {
			t.Errorf("message %s at offset %d, want %d", *m.Value, m.Offset, want)
		}
		got[m.Partition] = append(got[m.Partition], *m.Value)
	}
	for p := range int32(3) {
		var want []string
		for i := p; i < 500; i += 3 {
			want = append(want, strconv.Itoa(int(i)))
		}
		if !slices.Equal(got[p], want) {
			t.Errorf("group read partition %d: %v, want %v", p, got[p], want)
		}
	}
}
