package mirror_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
)

// TestAtLeastOnceResumesFromTargetTail simulates an at-least-once run that
// died after its records reached the target but before its checkpoint and
// offset map did: the state of partition 0 is deleted after a copy. The
// next run must find its position from the tracing headers on the target
// and copy nothing twice.
func TestAtLeastOnceResumesFromTargetTail(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	const topic = "orders"
	pair.Source.CreateTopic(t, topic, 2, map[string]string{"retention.ms": "-1"})
	pair.Target.CreateTopic(t, topic, 2, map[string]string{"retention.ms": "-1"})
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, rec(int32(i%2), fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), time.UnixMilli(1_650_000_000_000+int64(i))))
		}
		pair.Source.Produce(t, recs...)
	}
	produce(0, 400)
	settings := bounded()
	settings.Guarantee = config.AtLeastOnce
	run(t, newMirror(t, pair, "alo", settings, topic))

	// Forget partition 0's progress: tombstone its checkpoint and segments.
	stateTopic := state.TopicName("alo")
	for _, r := range pair.Target.ConsumeAll(t, stateTopic) {
		k := string(r.Key)
		if k == "checkpoint/orders/0" || len(k) > 19 && k[:19] == "offsetmap/orders/0/" {
			pair.Target.Produce(t, &kgo.Record{Topic: stateTopic, Key: r.Key, Value: nil})
		}
	}
	produce(400, 600)
	m := newMirror(t, pair, "alo", settings, topic)
	run(t, m)
	if n := assertMirrored(t, pair, topic, topic, true); n != 600 {
		t.Errorf("source has %d records, want 600", n)
	}
	// Only the 100 new records of each partition were copied.
	if st := m.Stats(); st.Records != 200 {
		t.Errorf("second run copied %d records, want 200 (partition 0 resumed from the target tail)", st.Records)
	}
}
