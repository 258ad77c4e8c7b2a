package mirror_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/mirror"
)

// TestFaults runs bounded copies of 48,000 records over 6 partitions while
// faults are injected into every connection the mirror's clients open (they
// dial through a kafkatest.FaultDialer): the copy must still finish exactly,
// every record once, in order.
func TestFaults(t *testing.T) {
	t.Run("connections", testConnectionFaults)
	t.Run("lost responses", testLostResponses)
}

// faultFixture produces 48,000 records over 6 partitions of "orders" and
// returns a Mirror whose clients dial through src and tgt, with settings
// that make many small transactions.
func faultFixture(t *testing.T, pair *kafkatest.Pair, src, tgt *kafkatest.FaultDialer) *mirror.Mirror {
	t.Helper()
	createTopic(t, pair, "orders", 6, nil)
	base := time.UnixMilli(1_700_000_000_000)
	rng := rand.New(rand.NewChaCha8([32]byte{4}))
	var rs []*kgo.Record
	for i := range 48_000 {
		rs = append(rs, &kgo.Record{
			Topic: "orders", Partition: int32(i % 6), Key: fmt.Appendf(nil, "k%d", i),
			Value: randomBytes(rng, 250), Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		})
	}
	pair.Source.Produce(t, rs...)
	settings := bounded()
	// The smallest fetches and transactions (of about 1MiB), so that the
	// copy takes several transactions and faults hit every step of them.
	settings.MemoryBudget = config.MinMemoryBudget
	settings.TransactionMaxBytes = config.MinTransactionMaxBytes
	opts := options(t, pair, "faults", settings, "orders")
	// After a failed request franz-go refreshes metadata before retrying,
	// at most every MetadataMinAge (5s by default); a short one makes the
	// clients recover quickly, so that faults hit a busy copy rather than
	// clients waiting for their next refresh.
	opts.SourceOpts = []kgo.Opt{kgo.Dialer(src.DialContext), kgo.MetadataMinAge(100 * time.Millisecond)}
	opts.TargetOpts = []kgo.Opt{kgo.Dialer(tgt.DialContext), kgo.MetadataMinAge(100 * time.Millisecond)}
	return mustNew(t, opts)
}

// assertFaultyCopy checks a copy that ran under faults: Run returned nil in
// time, and the target is exact.
func assertFaultyCopy(t *testing.T, pair *kafkatest.Pair, m *mirror.Mirror, err error, elapsed time.Duration, injected []string) {
	t.Helper()
	st := m.Stats()
	if err != nil || !st.Done {
		t.Fatalf("Run returned %v after %v, done %v; stats %+v", err, elapsed, st.Done, st)
	}
	t.Logf("copied %d records in %v, %d transactions, %d sessions (%d failed, last: %s); %d faults injected: %v",
		st.Records, elapsed, st.Transactions, st.Sessions, st.Errors, st.LastError, len(injected), injected)
	want := pair.Source.ConsumeAll(t, "orders")
	assertMirrored(t, pair, "orders", "orders", true)
	assertExactlyOnce(t, pair, "orders", want)
	assertState(t, pair, "faults", "orders", "orders", true)
}

const (
	// faultCount is how many faults each fault test injects.
	faultCount = 40
	// faultTestLimit only keeps a hung mirror from hanging the suite; it
	// is not a speed the test expects.
	faultTestLimit = 5 * time.Minute
)

// injectFaults calls inject(i) every 50-200ms until it has reported
// maxFaults faults or the returned stop function is called, which returns
// what inject reported it did ("" for nothing). The bound on the count,
// not on time, is what lets the copy finish on a machine of any speed:
// faults injected for as long as the copy lasts can starve a slow one.
func injectFaults(ctx context.Context, seed byte, maxFaults int, inject func(i int, rng *rand.Rand) string) (stop func() []string) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var injected []string
	wg.Go(func() {
		rng := rand.New(rand.NewChaCha8([32]byte{seed}))
		for i := 0; len(injected) < maxFaults; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(50+rng.IntN(150)) * time.Millisecond):
			}
			if what := inject(i, rng); what != "" {
				injected = append(injected, what)
			}
		}
	})
	return func() []string { cancel(); wg.Wait(); return injected }
}

// testLostResponses loses the responses to requests the broker handled:
// commits the mirror cannot know succeeded, produces it must not repeat,
// fetches and state reads it must redo.
func testLostResponses(t *testing.T) {
	pair := newPair(t)
	src, tgt := kafkatest.NewFaultDialer(), kafkatest.NewFaultDialer()
	m := faultFixture(t, pair, src, tgt)
	ctx, cancel := context.WithTimeout(t.Context(), faultTestLimit)
	defer cancel()
	// Each fault fails the connection its request went on, and so every
	// request on it: one at a time, and only while copying (a session
	// that fails before it copies anything backs off ever longer).
	stop := injectFaults(ctx, 6, faultCount, func(i int, rng *rand.Rand) string {
		if !m.Stats().Ready || src.PendingLosses()+tgt.PendingLosses() > 0 {
			return ""
		}
		type fault struct {
			d    *kafkatest.FaultDialer
			side string
			key  kmsg.Key
		}
		faults := []fault{
			{tgt, "target", kmsg.EndTxn}, {tgt, "target", kmsg.EndTxn}, {tgt, "target", kmsg.EndTxn},
			{tgt, "target", kmsg.Produce}, {tgt, "target", kmsg.AddPartitionsToTxn},
			{src, "source", kmsg.Fetch}, {src, "source", kmsg.Fetch},
		}
		f := faults[rng.IntN(len(faults))]
		f.d.LoseResponses(int16(f.key), 1)
		return fmt.Sprintf("lose a %s %s response", f.side, f.key.Name())
	})
	start := time.Now()
	err := m.Run(ctx)
	injected := stop()
	assertFaultyCopy(t, pair, m, err, time.Since(start), injected)
	t.Logf("dialers: source %+v, target %+v", src.Stats(), tgt.Stats())
	// A commit whose answer was lost fails its session uncounted; the
	// next session counts it from the checkpoints (countCommitted).
	if st := m.Stats(); st.Records != 48_000 {
		t.Errorf("stats count %d records copied, want 48000", st.Records)
	}
}

// testConnectionFaults drops the connections to the source and the target
// again and again, delays reads and writes, and refuses new connections
// for a while.
func testConnectionFaults(t *testing.T) {
	pair := newPair(t)
	src, tgt := kafkatest.NewFaultDialer(), kafkatest.NewFaultDialer()
	m := faultFixture(t, pair, src, tgt)
	ctx, cancel := context.WithTimeout(t.Context(), faultTestLimit)
	defer cancel()
	// Slow every read and write a little from the start, so that the copy
	// lasts long enough for the faults to land however fast the build.
	src.SetLatency(2 * time.Millisecond)
	tgt.SetLatency(2 * time.Millisecond)
	stop := injectFaults(ctx, 5, faultCount, func(i int, rng *rand.Rand) string {
		d, side := src, "source"
		if i%2 == 1 {
			d, side = tgt, "target"
		}
		switch rng.IntN(4) {
		case 0, 1:
			return fmt.Sprintf("drop %d %s connections", d.DropAll(), side)
		case 2:
			d.SetLatency(time.Duration(1+rng.IntN(5)) * time.Millisecond)
			return "delay " + side
		default:
			d.SetLatency(time.Millisecond)
			d.RefuseFor(200 * time.Millisecond)
			d.DropAll()
			return "outage of " + side
		}
	})
	start := time.Now()
	err := m.Run(ctx)
	injected := stop()
	src.SetLatency(0)
	tgt.SetLatency(0)
	assertFaultyCopy(t, pair, m, err, time.Since(start), injected)
	if st := m.Stats(); st.Records != 48_000 {
		t.Errorf("stats count %d records copied, want 48000", st.Records)
	}
	if len(injected) < 5 || src.Stats().Dropped == 0 || tgt.Stats().Dropped == 0 {
		t.Errorf("only %d faults injected, dropping %d source and %d target connections: the copy outran the faults", len(injected), src.Stats().Dropped, tgt.Stats().Dropped)
	}
	t.Logf("dialers: source %+v, target %+v", src.Stats(), tgt.Stats())
}
