package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The produce path forwards each client batch upstream as it came, with
// only the producer id, epoch and base sequence of its header rewritten to
// the gateway's own idempotent producer on that cluster (and the CRC
// recomputed). Records are never decoded or re-encoded.
//
// Each upstream partition has one sender: the client batches for it are
// queued in the order the gateway read them and written one at a time,
// each numbered by the sender's own sequence, so the upstream sees one
// gapless idempotent stream per partition whichever clients fed it. A
// write the upstream may have taken (a lost answer, a retriable error) is
// retried with the same producer id and sequence until it is answered, so
// the upstream deduplicates it; only an error that says the batch was not
// written ends it. Partitions (and connections) proceed in parallel.

// upstreamProducer is the gateway's own idempotent producer identity on
// one cluster, taken with InitProducerId on first use and taken anew when
// the cluster no longer knows it.
type upstreamProducer struct {
	mu    sync.Mutex
	ok    bool
	id    int64
	epoch int16
	gen   uint64 // counts identities taken; a sender restarts its sequences on a new one
}

func (p *upstreamProducer) get(ctx context.Context, cl *kgo.Client) (int64, int16, uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ok {
		return p.id, p.epoch, p.gen, nil
	}
	kresp, err := cl.Request(ctx, kmsg.NewPtrInitProducerIDRequest())
	if err != nil {
		return 0, 0, 0, fmt.Errorf("init producer id: %w", err)
	}
	resp := kresp.(*kmsg.InitProducerIDResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return 0, 0, 0, fmt.Errorf("init producer id: %w", err)
	}
	p.ok, p.id, p.epoch = true, resp.ProducerID, resp.ProducerEpoch
	p.gen++
	return p.id, p.epoch, p.gen, nil
}

// renew makes the next get take a new identity, unless one newer than gen
// was taken already.
func (p *upstreamProducer) renew(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == gen {
		p.ok = false
	}
}

// senderKey names an upstream partition: the cluster and the topic's name
// there.
type senderKey struct {
	side      Side
	topic     string
	partition int32
}

// upWrite is one client batch queued for an upstream partition.
type upWrite struct {
	batch clientBatch
	topic string // the source name, for stats and offsets
	pp    producerPartition
	idem  bool         // the client is idempotent: settle res through sequences
	res   *batchResult // shared with the client's retries of the batch
}

// partitionSender writes one upstream partition's queue in order. The
// fields after running belong to the goroutine draining the queue.
type partitionSender struct {
	mu      sync.Mutex
	queue   []*upWrite
	running bool

	leader  int32 // -1: look it up
	gen     uint64
	nextSeq int32
	// failedAt is, per client stream, the epoch and sequence of a batch
	// that failed here: batches of the stream queued behind it fail too
	// (the client retries them after it, in order), until it comes again.
	failedAt map[producerPartition][2]int32
}

// enqueue queues w for its upstream partition, starting the partition's
// sender if it is idle. Callers enqueue in the order they read batches.
func (s *Server) enqueue(key senderKey, w *upWrite) {
	s.sendersMu.Lock()
	ps := s.senders[key]
	if ps == nil {
		ps = &partitionSender{leader: -1, failedAt: map[producerPartition][2]int32{}}
		s.senders[key] = ps
	}
	s.sendersMu.Unlock()
	ps.mu.Lock()
	ps.queue = append(ps.queue, w)
	start := !ps.running
	ps.running = true
	ps.mu.Unlock()
	if start {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.drainSender(key, ps)
		}()
	}
}

// drainSender writes a partition's queue until it is empty.
func (s *Server) drainSender(key senderKey, ps *partitionSender) {
	for {
		ps.mu.Lock()
		if len(ps.queue) == 0 {
			ps.running = false
			ps.mu.Unlock()
			return
		}
		w := ps.queue[0]
		ps.queue[0] = nil
		ps.queue = ps.queue[1:]
		ps.mu.Unlock()
		s.send(key, ps, w)
	}
}

// send writes one client batch and settles its result.
func (s *Server) send(key senderKey, ps *partitionSender, w *upWrite) {
	base, code := int64(-1), int16(0)
	mark, marked := ps.failedAt[w.pp]
	switch {
	case w.idem && marked && int16(mark[0]) == w.batch.epoch && mark[1] != w.batch.firstSeq:
		code = kerr.NotLeaderForPartition.Code // queued behind a failed batch
	case key.side == Source && !s.leaseValid():
		// The lease ran out while the batch was queued: another
		// gateway may be switching the topic unseen.
		s.stats.leaseRefusals.Add(1)
		code = kerr.NotLeaderForPartition.Code
	default:
		// A new batch, the client's retry of the failed one, or a
		// new epoch, which starts afresh.
		delete(ps.failedAt, w.pp)
		base, code = s.writeUpstream(key, ps, w.batch)
	}
	if code == 0 {
		s.stats.produced(key.side, int(w.batch.numRecords))
		if b := s.base(w.topic); key.side == Target && b != nil && base >= 0 {
			_, shift := b.split(key.partition)
			base -= shift
		}
	} else if w.idem {
		if _, ok := ps.failedAt[w.pp]; !ok {
			ps.failedAt[w.pp] = [2]int32{int32(w.batch.epoch), w.batch.firstSeq}
		}
	}
	if w.idem {
		s.seqs.settle(w.pp, w.res, base, code)
		return
	}
	w.res.finish(base, code)
}

// Retry pacing of an upstream write, and how many retriable refusals
// (the batch was not written) it takes before the client is answered.
const (
	retryFirst  = 50 * time.Millisecond
	retryMax    = time.Second
	maxRefusals = 10
)

// writeUpstream writes one batch to the partition's leader under the
// gateway's producer and returns the upstream base offset. It retries
// with the same producer id and sequence every failure after which the
// batch may be written (a lost answer, REQUEST_TIMED_OUT), until it is
// answered, so the upstream deduplicates it; the server closing ends that
// with REQUEST_TIMED_OUT to the client (the upstream producer id ends with
// the process). A refusal that says the batch was not written is retried
// a few times, then answered; so is any other error.
func (s *Server) writeUpstream(key senderKey, ps *partitionSender, b clientBatch) (int64, int16) {
	up, _ := s.upstreamFor(key.side, "")
	ctx := s.life
	var (
		gen      uint64
		seq      int32
		assigned bool
		refusals int
	)
	for wait := time.Duration(0); ; wait = min(max(2*wait, retryFirst), retryMax) {
		if err := sleepCtx(ctx, wait); err != nil {
			return -1, kerr.RequestTimedOut.Code
		}
		if !assigned {
			id, epoch, g, err := up.prod.get(ctx, up.cl)
			if err != nil {
				s.log.Warn("upstream producer id", "upstream", key.side.String(), "err", err)
				if code, ok := definite(err); ok {
					return -1, code
				}
				continue
			}
			if g != ps.gen {
				ps.gen, ps.nextSeq = g, 0
			}
			gen, seq, assigned = g, ps.nextSeq, true
			rewriteProducer(b.raw, id, epoch, seq)
		}
		p, err := s.produceOnce(ctx, up, key, ps, b.raw)
		if err != nil {
			ps.leader = -1
			s.log.Warn("upstream produce failed; retrying", "upstream", key.side.String(), "topic", key.topic, "partition", key.partition, "err", err)
			continue
		}
		switch err := kerr.ErrorForCode(p.ErrorCode); {
		case err == nil, errors.Is(err, kerr.DuplicateSequenceNumber):
			ps.nextSeq = seq + b.numRecords // int32 wrap-around is Kafka's too
			return p.BaseOffset, 0
		case errors.Is(err, kerr.OutOfOrderSequenceNumber), errors.Is(err, kerr.UnknownProducerID),
			errors.Is(err, kerr.InvalidProducerEpoch), errors.Is(err, kerr.ProducerFenced):
			// Not written: the cluster lost (or never had) our
			// producer's state. Take a new producer id.
			up.prod.renew(gen)
			assigned = false
		case errors.Is(err, kerr.RequestTimedOut), errors.Is(err, kerr.NotEnoughReplicasAfterAppend):
			// Maybe written: only the same sequence may follow.
			ps.leader = -1
		case kerr.IsRetriable(err):
			// Not written: after a few tries the client is told and
			// retries it itself.
			ps.leader = -1
			if refusals++; refusals >= maxRefusals {
				s.log.Warn("upstream keeps refusing a batch", "upstream", key.side.String(), "topic", key.topic, "partition", key.partition, "err", err)
				return -1, p.ErrorCode
			}
		default:
			s.log.Warn("upstream refused a batch", "upstream", key.side.String(), "topic", key.topic, "partition", key.partition, "err", err)
			return -1, p.ErrorCode
		}
	}
}

// produceOnce sends one batch to the partition's leader, in the next
// request to it (batcher.go), and returns the partition's answer.
func (s *Server) produceOnce(ctx context.Context, up upstream, key senderKey, ps *partitionSender, raw []byte) (*kmsg.ProduceResponseTopicPartition, error) {
	if ps.leader < 0 {
		leader, err := leaderOf(ctx, up.cl, key.topic, key.partition)
		if err != nil {
			return nil, err
		}
		ps.leader = leader
	}
	return up.batch.produce(ctx, ps.leader, key.topic, key.partition, raw)
}

// leaderOf returns the leader of a partition from fresh metadata.
func leaderOf(ctx context.Context, cl *kgo.Client, topic string, partition int32) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(topic)}}
	resp, err := cl.RequestCachedMetadata(ctx, req, time.Millisecond)
	if err != nil {
		return -1, err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return -1, err
		}
		for _, p := range t.Partitions {
			if p.Partition == partition && p.Leader >= 0 {
				return p.Leader, kerr.ErrorForCode(p.ErrorCode)
			}
		}
	}
	return -1, fmt.Errorf("%w: %s[%d] has no leader", kerr.LeaderNotAvailable, topic, partition)
}

// definite says whether err is an answer after which retrying cannot
// help, and its code.
func definite(err error) (int16, bool) {
	var ke *kerr.Error
	if errors.As(err, &ke) && !ke.Retriable {
		return ke.Code, true
	}
	return 0, false
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
