package mirror_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestResumeAfterCancel cancels Run at several points of a bounded copy and
// runs again each time. Cancelling commits what was copied: after each
// run, the checkpoints count exactly the records on the target, and the
// final target equals the source with no duplicate.
func TestResumeAfterCancel(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 3, nil)
	base := time.UnixMilli(1_700_000_000_000)
	// Incompressible values: fetches are limited in compressed bytes,
	// transactions in uncompressed ones.
	rng := rand.New(rand.NewChaCha8([32]byte{3}))
	var rs []*kgo.Record
	for i := range 12000 {
		rs = append(rs, &kgo.Record{
			Topic: "orders", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i),
			Value: randomBytes(rng, 1000), Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		})
	}
	pair.Source.Produce(t, rs...)
	// Small fetches and transactions, so that the copy takes several
	// transactions. (A transaction also takes the rest of the poll that
	// filled it: the smallest fetches are of 1MiB.)
	settings := bounded()
	settings.MemoryBudget = config.MinMemoryBudget
	settings.TransactionMaxBytes = config.MinTransactionMaxBytes

	copied := int64(0)
	midCopy := 0 // cancelled runs that copied records and left some
	for _, point := range []struct {
		name string
		// cancelWhen says when to cancel, from the run's stats; nil
		// cancels before Run starts.
		cancelWhen func(mirror.Stats) bool
	}{
		{"before starting", nil},
		{"once ready", func(st mirror.Stats) bool { return st.Ready }},
		{"after the first records", func(st mirror.Stats) bool { return st.Records > 0 }},
		{"after 1000 records", func(st mirror.Stats) bool { return st.Records >= 1000 }},
		{"at once again", func(mirror.Stats) bool { return true }},
		{"after 1000 more records", func(st mirror.Stats) bool { return st.Records >= 1000 }},
	} {
		m := newMirror(t, pair, "resume", settings, "orders")
		ctx, cancel := context.WithCancel(t.Context())
		if point.cancelWhen == nil {
			cancel()
		}
		done := runAsync(ctx, m)
		var err error
	wait:
		for {
			select {
			case err = <-done:
				break wait
			case <-time.After(time.Millisecond):
				if point.cancelWhen != nil && point.cancelWhen(m.Stats()) {
					cancel()
				}
			}
		}
		cancel()
		if err != nil {
			t.Fatalf("%s: Run returned %v, want nil", point.name, err)
		}
		st := m.Stats()
		copied += st.Records
		if st.Records > 0 && copied < 12000 {
			midCopy++
		}
		// What the run copied is committed, checkpoints included.
		snap := &state.Snapshot{}
		if copied > 0 || point.cancelWhen != nil {
			snap = loadState(t, pair, "resume")
		}
		target := byPartition(pair.Target.ConsumeAll(t, "orders"))
		var inState, onTarget int64
		for p := range int32(3) {
			recs := target[p]
			onTarget += int64(len(recs))
			c, ok := snap.Checkpoints[state.TopicPartition{Topic: "orders", Partition: p}]
			if !ok {
				continue
			}
			inState += c.Records
			// The source has no gaps: the checkpoint is one past the
			// source offset of the last copy.
			wantNext := int64(0)
			if len(recs) > 0 {
				o, _, err := trace.Find(recs[len(recs)-1].Headers)
				if err != nil {
					t.Fatal(err)
				}
				wantNext = o.Offset + 1
			}
			if c.Next != wantNext || c.Records != int64(len(recs)) {
				t.Errorf("%s: orders/%d checkpoint next %d records %d, want %d %d (the target's last copy)", point.name, p, c.Next, c.Records, wantNext, len(recs))
			}
		}
		if inState != copied || onTarget != copied {
			t.Errorf("%s: %d records copied so far, %d counted in the checkpoints, %d on the target", point.name, copied, inState, onTarget)
		}
		t.Logf("%s: run copied %d records in %d transactions; %d in all", point.name, st.Records, st.Transactions, copied)
	}
	if midCopy < 2 {
		t.Errorf("only %d cancelled runs copied records: the test means to cancel mid-copy and resume, more than once", midCopy)
	}

	m := newMirror(t, pair, "resume", settings, "orders")
	run(t, m)
	if copied += m.Stats().Records; copied != 12000 {
		t.Errorf("copied %d records in all, want 12000", copied)
	}
	want := pair.Source.ConsumeAll(t, "orders")
	assertMirrored(t, pair, "orders", "orders", true)
	assertExactlyOnce(t, pair, "orders", want)
	assertState(t, pair, "resume", "orders", "orders", true)
}
