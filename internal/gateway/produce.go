package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produce routes each partition's batches to the cluster its topic lives
// on, all partitions at once, and answers when every one is settled (or
// not at all for acks=0). The upstream write is always acks=all, which
// honours acks=1 too.
func (s *Server) produce(ctx context.Context, req *kmsg.ProduceRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	held := make(chan struct{})
	timer := time.AfterFunc(s.opts.HoldTimeout, func() { close(held) })
	defer timer.Stop()
	var wg sync.WaitGroup
	for _, t := range req.Topics {
		rt := kmsg.ProduceResponseTopic{Topic: t.Topic, Partitions: make([]kmsg.ProduceResponseTopicPartition, len(t.Partitions))}
		for i, p := range t.Partitions {
			out := &rt.Partitions[i]
			*out = kmsg.ProduceResponseTopicPartition{Partition: p.Partition, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
			if req.TransactionID != nil {
				out.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				out.BaseOffset, out.ErrorCode = s.producePartition(ctx, held, t.Topic, p.Partition, p.Records)
			}()
		}
		resp.Topics = append(resp.Topics, rt)
	}
	wg.Wait()
	if req.Acks == 0 {
		return nil
	}
	return resp
}

// producePartition writes one partition's batches and returns the base
// offset of the first and an error code.
func (s *Server) producePartition(ctx context.Context, held <-chan struct{}, topic string, partition int32, raw []byte) (int64, int16) {
	route, ok := s.routes[topic]
	if !ok {
		return -1, kerr.TopicAuthorizationFailed.Code
	}
	batches, err := decodeBatches(raw)
	if err != nil {
		s.log.Warn("refused a batch", "topic", topic, "partition", partition, "err", err)
		if errors.Is(err, ErrTransactionalBatch) {
			return -1, kerr.TransactionalIDAuthorizationFailed.Code
		}
		return -1, kerr.CorruptMessage.Code
	}
	side, err := route.acquire(ctx, held)
	if err != nil {
		s.stats.heldTimeouts.Add(1)
		return -1, kerr.RequestTimedOut.Code
	}
	defer route.release()
	if side == Source && !s.leaseValid() {
		// Another gateway may be switching the topic unseen.
		s.stats.leaseRefusals.Add(1)
		return -1, kerr.NotLeaderForPartition.Code
	}
	lane := route.lane(partition)
	lane.Lock()
	defer lane.Unlock()
	first := int64(-1)
	for i := range batches {
		base, code := s.writeBatch(ctx, side, topic, partition, &batches[i])
		if code != 0 {
			return -1, code
		}
		if i == 0 {
			first = base
		}
	}
	return first, 0
}

// writeBatch writes one client batch upstream exactly once per client
// sequence: a retry of a batch already written (or being written) gets the
// first write's answer.
func (s *Server) writeBatch(ctx context.Context, side Side, topic string, partition int32, b *kmsg.RecordBatch) (int64, int16) {
	if b.ProducerID < 0 {
		return s.forward(ctx, side, topic, partition, b)
	}
	pp := producerPartition{producerID: b.ProducerID, topic: topic, partition: partition}
	res, dup, code := s.seqs.admit(pp, b.ProducerEpoch, b.FirstSequence, b.NumRecords)
	switch {
	case code == kerr.DuplicateSequenceNumber.Code:
		s.stats.duplicates.Add(1)
		return -1, code
	case code != 0:
		return -1, code
	case dup:
		s.stats.duplicates.Add(1)
		select {
		case <-res.done:
			return res.base, res.code
		case <-ctx.Done():
			return -1, kerr.RequestTimedOut.Code
		}
	}
	base, code := s.forward(ctx, side, topic, partition, b)
	s.seqs.settle(pp, res, base, code)
	return base, code
}

// forward produces a batch's records on side and waits for all of them.
// The base offset is the first record's: the partition's lane keeps this
// gateway's batches contiguous.
func (s *Server) forward(ctx context.Context, side Side, topic string, partition int32, b *kmsg.RecordBatch) (int64, int16) {
	up, name := s.upstreamFor(side, topic)
	recs, err := records(b, name, partition)
	if err != nil {
		s.log.Warn("refused a batch", "topic", topic, "partition", partition, "err", err)
		return -1, kerr.CorruptMessage.Code
	}
	if len(recs) == 0 {
		return -1, kerr.CorruptMessage.Code
	}
	if err := up.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		s.log.Warn("upstream produce failed", "upstream", side.String(), "topic", name, "partition", partition, "err", err)
		return -1, errorCode(err)
	}
	s.stats.produced(side, len(recs))
	if b := s.base(topic); side == Target && b != nil {
		_, shift := b.split(partition)
		return recs[0].Offset - shift, 0
	}
	return recs[0].Offset, 0
}

// errorCode is the Kafka error code for an upstream error: its own code
// when the upstream answered one, else REQUEST_TIMED_OUT, which clients
// retry.
func errorCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.RequestTimedOut.Code
}
