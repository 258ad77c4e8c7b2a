package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produce queues each partition's batches for the cluster its topic lives
// on, in the order the connection read them, and returns the function
// that waits for every one and builds the answer (nil for acks=0). The
// connection reads its next request while this one's writes are under way
// (conn.go). The upstream write is always acks=all, which honours acks=1
// too.
func (s *Server) produce(ctx context.Context, req *kmsg.ProduceRequest) func() kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	held := make(chan struct{})
	timer := time.AfterFunc(s.opts.HoldTimeout, func() { close(held) })
	defer timer.Stop()
	var waits []func()
	for _, t := range req.Topics {
		rt := kmsg.ProduceResponseTopic{Topic: t.Topic, Partitions: make([]kmsg.ProduceResponseTopicPartition, len(t.Partitions))}
		for i, p := range t.Partitions {
			out := &rt.Partitions[i]
			*out = kmsg.ProduceResponseTopicPartition{Partition: p.Partition, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
			if req.TransactionID != nil {
				out.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				continue
			}
			wait := s.producePartition(ctx, held, t.Topic, p.Partition, p.Records)
			waits = append(waits, func() { out.BaseOffset, out.ErrorCode = wait() })
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return func() kmsg.Response {
		for _, w := range waits {
			w()
		}
		if req.Acks == 0 {
			return nil
		}
		return resp
	}
}

// answer is a partition's result known without waiting.
func answer(base int64, code int16) func() (int64, int16) {
	return func() (int64, int16) { return base, code }
}

// producePartition queues one partition's batches and returns the
// function that waits for them: the base offset of the first and an error
// code.
func (s *Server) producePartition(ctx context.Context, held <-chan struct{}, topic string, partition int32, raw []byte) func() (int64, int16) {
	route, ok := s.routes[topic]
	if !ok {
		return answer(-1, kerr.TopicAuthorizationFailed.Code)
	}
	batches, err := decodeBatches(raw)
	if err != nil {
		s.log.Warn("refused a batch", "topic", topic, "partition", partition, "err", err)
		if errors.Is(err, ErrTransactionalBatch) {
			return answer(-1, kerr.TransactionalIDAuthorizationFailed.Code)
		}
		return answer(-1, kerr.CorruptMessage.Code)
	}
	side, err := route.acquire(ctx, held)
	if err != nil {
		s.stats.heldTimeouts.Add(1)
		return answer(-1, kerr.RequestTimedOut.Code)
	}
	if side == Source && !s.leaseValid() {
		// Another gateway may be switching the topic unseen.
		route.release()
		s.stats.leaseRefusals.Add(1)
		return answer(-1, kerr.NotLeaderForPartition.Code)
	}
	_, name := s.upstreamFor(side, topic)
	key := senderKey{side: side, topic: name, partition: partition}
	var results []*batchResult
	var refused int16
	for _, b := range batches {
		res, code := s.admitBatch(key, topic, b)
		if code != 0 {
			refused = code
			break
		}
		results = append(results, res)
	}
	return func() (int64, int16) {
		// Every queued write is waited for, so that a switch waiting
		// for the route's writes in flight waits for all of them.
		defer route.release()
		first, code := int64(-1), refused
		for i, res := range results {
			select {
			case <-res.done:
			case <-ctx.Done():
				return -1, kerr.RequestTimedOut.Code
			}
			if i == 0 {
				first = res.base
			}
			if res.code != 0 && code == 0 {
				code = res.code
			}
		}
		if code != 0 {
			return -1, code
		}
		return first, 0
	}
}

// admitBatch queues one client batch upstream exactly once per client
// sequence: a retry of a batch already written (or queued) gets the first
// write's result.
func (s *Server) admitBatch(key senderKey, topic string, b clientBatch) (*batchResult, int16) {
	if b.producerID < 0 {
		res := &batchResult{done: make(chan struct{})}
		s.enqueue(key, &upWrite{batch: b, topic: topic, res: res})
		return res, 0
	}
	pp := producerPartition{producerID: b.producerID, topic: topic, partition: key.partition}
	res, dup, code := s.seqs.admit(pp, b.epoch, b.firstSeq, b.numRecords)
	switch {
	case code == kerr.DuplicateSequenceNumber.Code:
		s.stats.duplicates.Add(1)
		return nil, code
	case code != 0:
		return nil, code
	case dup:
		s.stats.duplicates.Add(1)
		return res, 0
	}
	s.enqueue(key, &upWrite{batch: b, topic: topic, pp: pp, idem: true, res: res})
	return res, 0
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
