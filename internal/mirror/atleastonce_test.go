package mirror_test

import (
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/config"
)

// TestAtLeastOnce runs a bounded copy without transactions. Without
// failures it is as exact as exactly-once: every record once, the offset
// map and checkpoints right (the target has no transaction markers, so
// TargetNext is the target end offset).
//
// What at-least-once does not guarantee, and this test therefore does not
// claim:
//   - No duplicates after a crash. Records and checkpoints are written
//     separately: records acknowledged by the target after the last
//     checkpoint are found again from their tracing headers
//     (TestAtLeastOnceResumesFromTargetTail), but records still in flight
//     when the process died may be written and then copied again, and with
//     tracing headers off everything after the last checkpoint is copied
//     again.
//   - No fencing. Nothing stops two processes running the same migration:
//     both copy, and the target gets duplicates.
//   - Atomic visibility. Target consumers can read records before the
//     checkpoint that covers them exists, and a failed produce in the
//     middle of a run leaves the records before it on the target.
func TestAtLeastOnce(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 3, nil)
	produceRange(t, pair.Source, "orders", 3, 0, 500, time.UnixMilli(1_700_000_000_000))
	settings := bounded()
	settings.Guarantee = config.AtLeastOnce
	m := newMirror(t, pair, "alo", settings, "orders")
	run(t, m)
	want := pair.Source.ConsumeAll(t, "orders")
	assertMirrored(t, pair, "orders", "orders", true)
	assertExactlyOnce(t, pair, "orders", want)
	assertState(t, pair, "alo", "orders", "orders", false)
	if st := m.Stats(); st.Records != 1500 || !st.Done {
		t.Errorf("stats: %d records, done %v; want 1500, true", st.Records, st.Done)
	}
	// A second run copies nothing.
	m = newMirror(t, pair, "alo", settings, "orders")
	run(t, m)
	if st := m.Stats(); st.Records != 0 {
		t.Errorf("second run copied %d records, want 0", st.Records)
	}
	assertExactlyOnce(t, pair, "orders", want)
}
