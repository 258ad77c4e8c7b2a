package mirror_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

func TestBoundedCopyIsExact(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	topic := "orders"
	noRetention := map[string]string{"retention.ms": "-1"}
	pair.Source.CreateTopic(t, topic, 3, noRetention)
	pair.Target.CreateTopic(t, topic, 3, noRetention)
	base := time.UnixMilli(1_600_000_000_000)
	var recs []*kgo.Record
	for i := range 600 {
		p := int32(i % 3)
		switch {
		case i%50 == 0:
			recs = append(recs, rec(p, "", fmt.Sprintf("null-key-%d", i), base.Add(time.Duration(i)*time.Millisecond)))
		case i%37 == 0:
			recs = append(recs, rec(p, fmt.Sprintf("k%d", i), "\x00tombstone", base.Add(time.Duration(i)*time.Millisecond)))
		default:
			recs = append(recs, rec(p, fmt.Sprintf("k%d", i), fmt.Sprintf("value-%d", i), base.Add(time.Duration(i)*time.Millisecond), "h1", "a", "h2", fmt.Sprint(i)))
		}
	}
	pair.Source.Produce(t, recs...)

	m := newMirror(t, pair, "exact", bounded(), topic)
	run(t, m)
	if n := assertMirrored(t, pair, topic, topic, true); n != 600 {
		t.Errorf("source has %d records, want 600", n)
	}
	st := m.Stats()
	if st.Records != 600 || !st.Done {
		t.Errorf("stats: records %d done %v, want 600 true", st.Records, st.Done)
	}

	// A second run finds everything copied and copies nothing.
	m2 := newMirror(t, pair, "exact", bounded(), topic)
	run(t, m2)
	if st := m2.Stats(); st.Records != 0 {
		t.Errorf("second run copied %d records, want 0", st.Records)
	}
	assertMirrored(t, pair, topic, topic, true)
}
