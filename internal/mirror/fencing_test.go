package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/mirror"
)

// keepProducing writes records to every partition of topic until the
// returned stop function is called, which waits for the writer to finish.
func keepProducing(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32) (stop func()) {
	t.Helper()
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			var rs []*kgo.Record
			for p := range partitions {
				rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "live %d", i)})
			}
			if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil && ctx.Err() == nil {
				t.Errorf("produce: %v", err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	return func() { cancel(); wg.Wait() }
}

// waitFor polls cond every 10ms until it holds, failing the test after
// timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runAsync runs m in the background until ctx ends; the returned channel
// delivers Run's error.
func runAsync(ctx context.Context, m *mirror.Mirror) <-chan error {
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return done
}

// TestFencing runs two mirrors of one migration at once, in continuous
// mode, while the source is being written to. Starting the second fences
// the first, whose Run returns ErrFenced; the second carries on, and a
// bounded copy after it finishes the job. No record is lost or copied
// twice.
func TestFencing(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 3, nil)
	produceRange(t, pair.Source, "orders", 3, 0, 100, time.UnixMilli(1_700_000_000_000))
	stopProducing := keepProducing(t, pair.Source, "orders", 3)
	defer stopProducing()

	continuous := bounded()
	continuous.Until = config.UntilNever
	first := newMirror(t, pair, "fence", continuous, "orders")
	second := newMirror(t, pair, "fence", continuous, "orders")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	firstDone := runAsync(ctx, first)
	waitFor(t, 20*time.Second, "the first mirror to copy records", func() bool { return first.Stats().Records > 300 })
	secondCtx, stopSecond := context.WithCancel(ctx)
	defer stopSecond()
	secondDone := runAsync(secondCtx, second)

	select {
	case err := <-firstDone:
		if !errors.Is(err, mirror.ErrFenced) {
			t.Fatalf("first mirror: Run returned %v, want ErrFenced", err)
		}
	case err := <-secondDone:
		t.Fatalf("second mirror returned first: %v (first mirror stats %+v)", err, first.Stats())
	case <-ctx.Done():
		t.Fatalf("the first mirror was not fenced within 60s; stats %+v", first.Stats())
	}
	// The survivor copies what the source gets meanwhile.
	before := second.Stats().Records
	waitFor(t, 20*time.Second, "the second mirror to copy records", func() bool { return second.Stats().Records > before+300 })
	stopSecond()
	if err := <-secondDone; err != nil {
		t.Fatalf("second mirror: Run returned %v after cancellation, want nil", err)
	}
	if st := second.Stats(); st.Errors != 0 {
		t.Errorf("second mirror had %d session errors (last %s), want 0: it must not have been fenced back", st.Errors, st.LastError)
	}

	stopProducing()
	last := newMirror(t, pair, "fence", bounded(), "orders")
	run(t, last)
	want := pair.Source.ConsumeAll(t, "orders")
	assertMirrored(t, pair, "orders", "orders", true)
	assertExactlyOnce(t, pair, "orders", want)
	assertState(t, pair, "fence", "orders", "orders", true)
	t.Logf("copied %d records: %d by the first mirror, %d by the second, %d by the last", len(want), first.Stats().Records, second.Stats().Records, last.Stats().Records)
}
