package mirror_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestLoopPrevention mirrors a source that holds records copied there from
// the target (as after a cutover, mirroring back): their tracing header
// names the target cluster, and they are not copied back. Records traced
// to a third cluster, or with a tracing header that does not decode, are
// the source's own: they are copied, with this hop's tracing header in
// place of theirs.
func TestLoopPrevention(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 3, nil)
	base := time.UnixMilli(1_700_000_000_000)
	fromTarget := trace.NewEncoder(pair.Target.ID, "orders")
	fromElsewhere := trace.NewEncoder("a-third-cluster", "payments")
	var rs []*kgo.Record
	looped := map[int32]map[int]bool{0: {}, 1: {}, 2: {}}
	for p := range int32(3) {
		for i := range 60 {
			r := &kgo.Record{Topic: "orders", Partition: p, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d-%d", p, i),
				Timestamp: base.Add(time.Duration(i) * time.Second), Headers: []kgo.RecordHeader{{Key: "app", Value: []byte("x")}}}
			// Partition 0 mixes all kinds, partition 1 ends with looped
			// records, partition 2 holds only looped records.
			loop := p == 2 || (p == 1 && i >= 50) || (p == 0 && i%4 == 1)
			switch {
			case loop:
				looped[p][i] = true
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: trace.HeaderKey, Value: fromTarget.Append(nil, p, int64(1000+i), r.Timestamp.UnixMilli())})
			case i%4 == 2:
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: trace.HeaderKey, Value: fromElsewhere.Append(nil, 7, int64(i), 0)})
			case i%4 == 3:
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: trace.HeaderKey, Value: []byte("not a tracing header")},
					kgo.RecordHeader{Key: "kmigrate.other", Value: []byte("dropped too")})
			}
			rs = append(rs, r)
		}
	}
	pair.Source.Produce(t, rs...)

	m := newMirror(t, pair, "loop", bounded(), "orders")
	run(t, m)
	var want []*kgo.Record
	for _, r := range pair.Source.ConsumeAll(t, "orders") {
		if !looped[r.Partition][int(r.Offset)] {
			want = append(want, r)
		}
	}
	if len(want) != 45+50 {
		t.Fatalf("fixture: %d records to copy, want 95", len(want))
	}
	assertRecords(t, pair, "orders", want, true)
	assertExactlyOnce(t, pair, "orders", want)
	// Every partition is done: the checkpoints are past the looped
	// records, also where they are the last or the only ones.
	assertState(t, pair, "loop", "orders", "orders", true)
	if st := m.Stats(); st.Records != 95 {
		t.Errorf("copied %d records, want 95", st.Records)
	}
}
