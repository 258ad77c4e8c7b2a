package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestsPerLeader is how many produce requests the gateway keeps in
// flight to one broker: a broker handles one request per connection at a
// time, and a second one waiting in its socket keeps it busy.
const requestsPerLeader = 2

// batcher gathers the partition senders' writes to one cluster into as few
// produce requests as it can: every write waiting for a leader goes in the
// next request to it, as a client's own producer does. Each partition has
// at most one write in flight (its sender waits for the answer), so a
// request never names a partition twice, and the partitions' order is the
// senders'.
type batcher struct {
	cl *kgo.Client
	wg *sync.WaitGroup // the server's: Run waits for the request loops

	mu      sync.Mutex
	pending map[int32][]*pendingWrite // by leader
	loops   map[int32]int             // request loops running per leader
}

// pendingWrite is one partition's batch waiting for its request's answer.
type pendingWrite struct {
	topic     string
	partition int32
	raw       []byte
	done      chan struct{}
	resp      *kmsg.ProduceResponseTopicPartition
	err       error
}

func newBatcher(cl *kgo.Client, wg *sync.WaitGroup) *batcher {
	return &batcher{cl: cl, wg: wg, pending: map[int32][]*pendingWrite{}, loops: map[int32]int{}}
}

// produce writes one partition's batch to leader in the next request to
// it and returns the partition's answer.
func (b *batcher) produce(ctx context.Context, leader int32, topic string, partition int32, raw []byte) (*kmsg.ProduceResponseTopicPartition, error) {
	w := &pendingWrite{topic: topic, partition: partition, raw: raw, done: make(chan struct{})}
	b.mu.Lock()
	b.pending[leader] = append(b.pending[leader], w)
	start := b.loops[leader] < requestsPerLeader
	if start {
		b.loops[leader]++
	}
	b.mu.Unlock()
	if start {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.loop(ctx, leader)
		}()
	}
	select {
	case <-w.done:
		return w.resp, w.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// loop sends every write waiting for leader, request after request, until
// none is left.
func (b *batcher) loop(ctx context.Context, leader int32) {
	for {
		b.mu.Lock()
		ws := b.pending[leader]
		if len(ws) == 0 {
			b.loops[leader]--
			b.mu.Unlock()
			return
		}
		delete(b.pending, leader)
		b.mu.Unlock()
		b.send(ctx, leader, ws)
	}
}

// send writes ws in one request and hands each its partition's answer.
func (b *batcher) send(ctx context.Context, leader int32, ws []*pendingWrite) {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 30_000
	topics := map[string]int{}
	for _, w := range ws {
		i, ok := topics[w.topic]
		if !ok {
			i = len(req.Topics)
			topics[w.topic] = i
			req.Topics = append(req.Topics, kmsg.ProduceRequestTopic{Topic: w.topic})
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, kmsg.ProduceRequestTopicPartition{Partition: w.partition, Records: w.raw})
	}
	kresp, err := b.cl.Broker(int(leader)).Request(ctx, req)
	answers := map[string]map[int32]*kmsg.ProduceResponseTopicPartition{}
	if err == nil {
		resp := kresp.(*kmsg.ProduceResponse)
		for i := range resp.Topics {
			t := &resp.Topics[i]
			m := answers[t.Topic]
			if m == nil {
				m = map[int32]*kmsg.ProduceResponseTopicPartition{}
				answers[t.Topic] = m
			}
			for j := range t.Partitions {
				m[t.Partitions[j].Partition] = &t.Partitions[j]
			}
		}
	}
	for _, w := range ws {
		switch {
		case err != nil:
			w.err = err
		case answers[w.topic][w.partition] == nil:
			w.err = fmt.Errorf("the produce answer lacks %s[%d]", w.topic, w.partition)
		default:
			w.resp = answers[w.topic][w.partition]
		}
		close(w.done)
	}
}
