package lane_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestVerifyPlantedFaults: after a clean copy from 3.9 to 4.x, verify
// exits 0; a duplicate copy and a changed copy planted on the target make
// it exit 1 and name each by source offset.
func TestVerifyPlantedFaults(t *testing.T) {
	p := pair(t, source39, target4)
	topic := kafkatest.TopicName(t, "planted")
	seedOrders(t, p.Source, topic, 2, 200)
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\n", topic))
	mustRun(t, m.args("mirror", "--until", "end")...)
	deleteAtCleanup(t, p.Target, topic)
	mustRun(t, m.args("verify")...)

	copies := map[int64]*kgo.Record{} // source offset -> copy, partition 1
	for _, r := range consumeSettled(t, p.Target, topic) {
		if o, ok, err := trace.Find(r.Headers); err == nil && ok && r.Partition == 1 {
			copies[o.Offset] = r
		}
	}
	dup, changed := copies[42], copies[43]
	if dup == nil || changed == nil {
		t.Fatalf("no copies of source offsets 42 and 43 of partition 1 on the target")
	}
	// The duplicate: the copy of 42 again. The changed copy: 43's tracing
	// header on another value; it lands after the duplicate, so verify
	// sees it out of order or as a mismatch, never as fine.
	p.Target.Produce(t,
		&kgo.Record{Topic: topic, Partition: 1, Key: dup.Key, Value: dup.Value, Headers: dup.Headers, Timestamp: dup.Timestamp},
		&kgo.Record{Topic: topic, Partition: 1, Key: changed.Key, Value: []byte("tampered"), Headers: changed.Headers, Timestamp: changed.Timestamp},
	)
	out, errOut, code := run(t, m.args("verify")...)
	if code != 1 {
		t.Fatalf("verify with planted faults: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"/1: duplicate: source offset 42 is copied twice", "FAILED"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "source offset 43") {
		t.Errorf("verify does not name the tampered copy of source offset 43:\n%s", out)
	}
	if strings.Contains(out, "/0: ") {
		t.Errorf("verify reports problems on the untouched partition 0:\n%s", out)
	}
}
