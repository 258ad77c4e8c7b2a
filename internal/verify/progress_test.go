package verify_test

import (
	"testing"

	"github.com/kmigrate/kmigrate/internal/verify"
)

// Progress counts the partitions to verify once Run has planned them,
// each verified partition, and the records read on each side: after a run
// over 2 partitions of 25 and 20 records, 2 of 2 and 45 records each side.
func TestProgress(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 2, nil, nil)
	produceN(t, pair.Source, "orders", 0, 25, "a")
	produceN(t, pair.Source, "orders", 1, 20, "b")
	mirrorOnce(t, pair, nil, "orders")

	h := pair.Open(t, migrationName, pair.Config(t, migrationName))
	v, err := verify.New(t.Context(), h, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Progress(); got != (verify.Progress{}) {
		t.Errorf("progress before Run: %+v, want zero", got)
	}
	rep, err := v.Run(t.Context())
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v (ok %v)", err, rep != nil && rep.OK)
	}
	want := verify.Progress{Partitions: 2, PartitionsDone: 2, SourceRecords: 45, TargetRecords: 45}
	if got := v.Progress(); got != want {
		t.Errorf("progress after Run: %+v, want %+v", got, want)
	}
}
