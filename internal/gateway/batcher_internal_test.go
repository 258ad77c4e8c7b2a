package gateway

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestBatcherGathersWrites: while both requests a leader may have in
// flight are unanswered, the writes of three more partitions wait, and go
// together in the next request; every write gets its own partition's
// answer.
func TestBatcherGathersWrites(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(5, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(kmsg.Produce.Int16(), 12)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.MaxVersions(versions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)

	var (
		mu       sync.Mutex
		requests [][]int32 // the partitions of each produce request, in arrival order
		first    = make(chan struct{})
		release  = make(chan struct{})
	)
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		var ps []int32
		for _, rt := range kreq.(*kmsg.ProduceRequest).Topics {
			for _, rp := range rt.Partitions {
				ps = append(ps, rp.Partition)
			}
		}
		slices.Sort(ps)
		mu.Lock()
		requests = append(requests, ps)
		n := len(requests)
		mu.Unlock()
		if n == 1 {
			close(first)
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})

	ctx := context.Background()
	leader, err := leaderOf(ctx, cl, "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	b := newBatcher(cl, &wg)
	type answer struct {
		partition int32
		resp      *kmsg.ProduceResponseTopicPartition
		err       error
	}
	answers := make(chan answer, 5)
	write := func(p int32) {
		raw := encodeBatch(0, time.UnixMilli(1_700_000_000_000), []*kgo.Record{{Value: []byte{byte('a' + p)}}})
		rewriteProducer(raw, -1, -1, -1) // not idempotent: kfake takes it as is
		wg.Go(func() {
			resp, err := b.produce(ctx, leader, "t", p, raw)
			answers <- answer{p, resp, err}
		})
	}
	// waitFor polls the batcher's state; the deadline only bounds a hang.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
			b.mu.Lock()
			ok := cond()
			b.mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
		}
	}

	write(0)
	<-first // the first request is held by the broker
	write(1)
	waitFor("the second request's loop to take its write", func() bool {
		return b.loops[leader] == requestsPerLeader && len(b.pending[leader]) == 0
	})
	write(2)
	write(3)
	write(4)
	waitFor("three writes waiting", func() bool { return len(b.pending[leader]) == 3 })
	close(release)
	for range 5 {
		a := <-answers
		if a.err != nil || a.resp == nil || a.resp.Partition != a.partition || a.resp.ErrorCode != 0 {
			t.Errorf("partition %d: answer %+v, %v", a.partition, a.resp, a.err)
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	want := [][]int32{{0}, {1}, {2, 3, 4}}
	if len(requests) != len(want) {
		t.Fatalf("produce requests %v, want %v", requests, want)
	}
	for i := range want {
		if !slices.Equal(requests[i], want[i]) {
			t.Fatalf("produce requests %v, want %v", requests, want)
		}
	}
}
