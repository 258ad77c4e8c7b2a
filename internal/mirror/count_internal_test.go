package mirror

import (
	"testing"

	"github.com/kmigrate/kmigrate/internal/state"
)

// TestCountCommitted: a session that committed 40 records of a partition
// but saw the commit fail (its answer lost) counted none of them; the next
// session finds the checkpoint 40 further than the count and adds them.
// Records checkpointed before the Run began, or counted already, are not
// added.
func TestCountCommitted(t *testing.T) {
	m := &Mirror{stats: newStats("m"), base: map[state.TopicPartition]int64{}}
	a := state.TopicPartition{Topic: "orders", Partition: 0}
	b := state.TopicPartition{Topic: "orders", Partition: 1}
	// First session: orders/0 had 100 records checkpointed by an earlier
	// run, orders/1 is new.
	m.countCommitted([]*part{{tp: a, records: 100}, {tp: b}})
	if st := m.Stats(); st.Records != 0 {
		t.Fatalf("first session: %d records counted, want 0", st.Records)
	}
	// It commits 10 records of orders/1 and sees that commit succeed (the
	// count the commit path adds), then commits 40 of orders/0 and sees
	// that commit fail.
	m.stats.update(func(st *Stats, get func(state.TopicPartition) *PartitionStats) {
		st.Records += 10
		get(b).Records += 10
	})
	m.countCommitted([]*part{{tp: a, records: 140}, {tp: b, records: 10}})
	st := m.Stats()
	got := map[state.TopicPartition]int64{}
	for _, p := range st.Partitions {
		got[state.TopicPartition{Topic: p.Topic, Partition: p.Partition}] = p.Records
	}
	if st.Records != 50 || got[a] != 40 || got[b] != 10 {
		t.Fatalf("second session: %d records (%v), want 50: 40 of orders/0, 10 of orders/1", st.Records, got)
	}
	// A third session with nothing new changes nothing.
	m.countCommitted([]*part{{tp: a, records: 140}, {tp: b, records: 10}})
	if st := m.Stats(); st.Records != 50 {
		t.Fatalf("third session: %d records, want 50", st.Records)
	}
}
