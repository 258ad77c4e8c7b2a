package groups

import (
	"errors"
	"testing"

	"github.com/kmigrate/kmigrate/internal/state"
)

// TestPlanEquivalentEnd: a caught-up group translated as End (one past the
// last copy, where the commit marker is) while the group sync already
// committed the copy of its next record, from a newer state: the committed
// offset delivers the same next record, so nothing is committed and it is
// no rewind. A committed offset past a committed record is a rewind.
func TestPlanEquivalentEnd(t *testing.T) {
	prev := []committed{{TP: state.TopicPartition{Topic: "orders", Partition: 0}, At: 433}}
	for _, tc := range []struct {
		name   string
		record *Record
		rewind bool
	}{
		{"nothing after the end", nil, false},
		{"the next copy is where the group is", &Record{Offset: 433}, false},
		{"a record the group would skip", &Record{Offset: 432}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &GroupResult{Partitions: []PartitionResult{{Topic: "orders", ToTopic: "orders", Partition: 0, From: 20, To: 432, Kind: End, Previous: -1, Record: tc.record}}}
			commit, err := plan(res, prev, false, "target")
			if got := errors.Is(err, ErrRewind); got != tc.rewind {
				t.Fatalf("plan: %v, want rewind %v", err, tc.rewind)
			}
			if len(commit) != 0 || res.Committed != 0 || res.Partitions[0].Changed {
				t.Errorf("commit %v, committed %d, changed %v: want nothing", commit, res.Committed, res.Partitions[0].Changed)
			}
		})
	}
	// Exact is never equivalent: the record at To is the group's next one.
	res := &GroupResult{Partitions: []PartitionResult{{Topic: "orders", ToTopic: "orders", Partition: 0, From: 20, To: 432, Kind: Exact, Previous: -1, Record: &Record{Offset: 432}}}}
	if _, err := plan(res, prev, false, "target"); !errors.Is(err, ErrRewind) {
		t.Errorf("exact translation below the committed offset: %v, want ErrRewind", err)
	}
}
