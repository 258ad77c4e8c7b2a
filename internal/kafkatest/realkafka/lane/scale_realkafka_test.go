package lane_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestScaleUnitsTwoProcesses runs two `kmigrate mirror --units 4`
// processes on one migration between real Kafka 4.x clusters while records
// are written: they share the units through the units group on the target.
// One is killed with SIGKILL; the other takes its units once its session
// times out (proved by records written after the kill reaching every
// partition), then stops on SIGTERM with exit 0. A bounded run finishes;
// the target equals the source record by record and verify exits 0.
func TestScaleUnitsTwoProcesses(t *testing.T) {
	p := pair(t, source4, target4)
	topic := kafkatest.TopicName(t, "units")
	seedOrders(t, p.Source, topic, 6, 6000)
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\nmirror:\n  transaction_interval: 100ms\n", topic))
	deleteAtCleanup(t, p.Target, topic)
	args := m.args("mirror", "--units", "4", "--session-timeout", laneSessionTimeout)
	adm := kadm.NewClient(p.Target.Client(t, kgo.MetadataMinAge(20*time.Millisecond)))

	cmdA, outA, doneA := startMirror(t, args)
	for endOffset(t, adm, topic) <= 10 {
		select {
		case err := <-doneA:
			t.Fatalf("the first mirror ended (%v)\n%s", err, outA)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cmdB, outB, doneB := startMirror(t, args)

	// Write while both run.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	cl := p.Source.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			r := &kgo.Record{Topic: topic, Partition: int32(i % 6), Key: fmt.Appendf(nil, "live%d", i), Value: make([]byte, 200)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil && ctx.Err() == nil {
				t.Errorf("produce: %v", err)
				return
			}
		}
	})
	time.Sleep(5 * time.Second) // let the group rebalance and both copy
	cmdA.Process.Signal(syscall.SIGKILL)
	<-doneA
	stop()
	wg.Wait()

	// Records written after the kill reach every partition only once B
	// owns every unit.
	var after []*kgo.Record
	for pn := range int32(6) {
		after = append(after, &kgo.Record{Topic: topic, Partition: pn, Key: []byte("after-kill"), Value: []byte("after-kill")})
	}
	p.Source.Produce(t, after...)
	deadline := time.Now().Add(3 * time.Minute)
	for !allPartitionsHave(t, p.Target, topic, "after-kill", 6) {
		select {
		case err := <-doneB:
			t.Fatalf("the second mirror ended (%v)\n%s", err, outB)
		case <-time.After(2 * time.Second):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second mirror did not take over the killed one's units within 3 minutes\nsecond:\n%s\nfirst:\n%s", outB, outA)
		}
	}
	cmdB.Process.Signal(syscall.SIGTERM)
	if err := <-doneB; err != nil {
		t.Fatalf("the second mirror after SIGTERM: %v\n%s", err, outB)
	}
	mustRun(t, m.args("mirror", "--until", "end")...)
	sameRecords(t, consumeSettled(t, p.Source, topic), consumeSettled(t, p.Target, topic))
	mustRun(t, m.args("verify")...)
}

// allPartitionsHave reports whether n partitions of topic on c hold a
// record with key.
func allPartitionsHave(t *testing.T, c *kafkatest.Cluster, topic, key string, n int) bool {
	t.Helper()
	seen := map[int32]bool{}
	for _, r := range c.ConsumeAll(t, topic) {
		if string(r.Key) == key {
			seen[r.Partition] = true
		}
	}
	return len(seen) == n
}
