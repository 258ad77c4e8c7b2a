package gateway_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestUpstreamFaults: the source drops a produce connection, answers
// NOT_LEADER_OR_FOLLOWER, forgets the gateway's producer id and refuses a
// batch as out of order, while an idempotent client writes small batches
// through the gateway. The gateway retries each upstream itself (a new
// producer id where the source lost it): the client sees no error, and
// the source holds every record once, in the client's order.
func TestUpstreamFaults(t *testing.T) {
	const name, topic, n = "m1", "orders", 2000
	pair := newPair(t, topic, 2)
	fake := pair.Source.RequireKfake(t)
	var (
		mu     sync.Mutex
		faults = []int16{-1, kerr.NotLeaderForPartition.Code, kerr.UnknownProducerID.Code, kerr.OutOfOrderSequenceNumber.Code}
		seen   int
	)
	fake.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		seen++
		if seen%3 != 0 || len(faults) == 0 { // every third request, until none is left
			return nil, nil, false
		}
		code := faults[0]
		faults = faults[1:]
		if code < 0 {
			return nil, errors.New("injected connection drop"), true
		}
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.ProduceResponseTopic{Topic: rt.Topic}
			for _, rp := range rt.Partitions {
				st.Partitions = append(st.Partitions, kmsg.ProduceResponseTopicPartition{Partition: rp.Partition, ErrorCode: code, BaseOffset: -1})
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	gw := startGateway(t, pair, gatewayOptions(t, pair, name, topic))
	cl := client(t, gw, kgo.ProducerBatchMaxBytes(4<<10))
	ctx := context.Background()
	var wg sync.WaitGroup
	var failMu sync.Mutex
	var failed []error
	value := make([]byte, 200)
	for i := range n {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 2), Key: []byte(strconv.Itoa(i)), Value: value}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				failMu.Lock()
				failed = append(failed, err)
				failMu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failed) != 0 {
		t.Fatalf("%d records failed, first: %v", len(failed), failed[0])
	}
	mu.Lock()
	left := len(faults)
	mu.Unlock()
	if left != 0 {
		t.Fatalf("%d faults not injected (only %d produce requests)", left, seen)
	}
	got := pair.Source.ConsumeAll(t, topic)
	if len(got) != n {
		t.Fatalf("source holds %d records, want %d", len(got), n)
	}
	next := map[int32]int{0: 0, 1: 1}
	for _, r := range got {
		if k, _ := strconv.Atoi(string(r.Key)); k != next[r.Partition] {
			t.Fatalf("partition %d offset %d holds key %s, want %d", r.Partition, r.Offset, r.Key, next[r.Partition])
		}
		next[r.Partition] += 2
	}
}
