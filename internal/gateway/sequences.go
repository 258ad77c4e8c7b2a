package gateway

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
)

// recentBatches is how many acknowledged batches per producer and
// partition are remembered for retries: clients keep at most five
// requests in flight per connection, so a retry is always among the last
// five batches (the same bound Kafka brokers use).
const recentBatches = 5

// producerPartition names one client producer's stream into one partition.
type producerPartition struct {
	producerID int64
	topic      string
	partition  int32
}

// batchResult is the outcome of one client batch, shared with retries of
// it: done is closed once base and code are set.
type batchResult struct {
	seq, count int32
	done       chan struct{}
	base       int64
	code       int16
}

func (b *batchResult) finish(base int64, code int16) {
	b.base, b.code = base, code
	close(b.done)
}

// stream is the sequence state of one producerPartition.
type stream struct {
	epoch  int16
	next   int32
	recent []*batchResult // oldest first, at most recentBatches
}

// sequences deduplicates the batches of idempotent clients by their own
// producer id, epoch and sequence numbers, independently of the upstream
// cluster the gateway writes to: the upstream sees the gateway's own
// idempotent producer, so a client's stream survives a switch of upstream.
//
// Unlike a broker, sequences never answers OUT_OF_ORDER_SEQUENCE_NUMBER or
// UNKNOWN_PRODUCER_ID: a stream it does not know (a client of another
// gateway, or of this one before a restart) is adopted at whatever
// sequence it arrives with, and a gap (an earlier batch failed here and is
// being retried) is answered with NOT_LEADER_OR_FOLLOWER, which every
// client retries in order.
type sequences struct {
	mu      sync.Mutex
	streams map[producerPartition]*stream
}

func newSequences() *sequences {
	return &sequences{streams: map[producerPartition]*stream{}}
}

// admit decides what to do with a batch: write it (res is new, dup is
// false, and the caller must call settle), wait for an earlier copy of it
// (dup is true: wait on res.done and answer res), or answer code.
func (s *sequences) admit(pp producerPartition, epoch int16, seq, count int32) (res *batchResult, dup bool, code int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[pp]
	switch {
	case st == nil || epoch > st.epoch:
		st = &stream{epoch: epoch, next: seq}
		s.streams[pp] = st
	case epoch < st.epoch:
		return nil, false, kerr.InvalidProducerEpoch.Code
	}
	for _, b := range st.recent {
		if b.seq == seq && b.count == count {
			return b, true, 0
		}
	}
	if seq != st.next {
		if seq < st.next {
			// Older than every remembered batch: Kafka's answer,
			// which clients count as written.
			return nil, false, kerr.DuplicateSequenceNumber.Code
		}
		return nil, false, kerr.NotLeaderForPartition.Code
	}
	res = &batchResult{seq: seq, count: count, done: make(chan struct{})}
	st.next = seq + count // int32 wrap-around is Kafka's too
	st.recent = append(st.recent, res)
	if len(st.recent) > recentBatches {
		st.recent = st.recent[1:]
	}
	return res, false, 0
}

// settle records the outcome of a batch admit returned as new. A failed
// batch is forgotten and the stream rewinds to it, so that the client's
// retry (same sequence) is admitted again; the client's batches admitted
// after it are forgotten too (the sender fails them, and the client
// retries them after the failed one, in order). A batch already forgotten
// that way does not rewind the stream again.
func (s *sequences) settle(pp producerPartition, res *batchResult, base int64, code int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[pp]; st != nil && code != 0 {
		for i, b := range st.recent {
			if b == res {
				clear(st.recent[i:])
				st.recent = st.recent[:i:i]
				st.next = res.seq
				break
			}
		}
	}
	res.finish(base, code)
}

// forget drops every stream of a producer id (a client asked for a new
// one).
func (s *sequences) forget(producerID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for pp := range s.streams {
		if pp.producerID == producerID {
			delete(s.streams, pp)
		}
	}
}
