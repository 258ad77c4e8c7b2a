package gateway

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestSequences walks one client stream through the cases a gateway
// meets: new batches, retries of written, pending and failed batches,
// gaps, stale epochs, new epochs, and a stream adopted mid-way.
func TestSequences(t *testing.T) {
	s := newSequences()
	pp := producerPartition{producerID: 7, topic: "orders", partition: 1}
	type step struct {
		name       string
		epoch      int16
		seq, count int32
		wantDup    bool
		wantCode   int16
		settle     int16 // code to settle a new batch with
		base       int64
	}
	steps := []step{
		{name: "adopted at 10", seq: 10, count: 5, base: 100},
		{name: "next", seq: 15, count: 5, base: 105},
		{name: "retry of a written batch", seq: 10, count: 5, wantDup: true, base: 100},
		{name: "gap", seq: 30, count: 5, wantCode: kerr.NotLeaderForPartition.Code},
		{name: "fails upstream", seq: 20, count: 5, settle: kerr.RequestTimedOut.Code},
		{name: "retry of the failed batch is new", seq: 20, count: 5, base: 110},
		{name: "stale epoch", epoch: -1, seq: 25, count: 1, wantCode: kerr.InvalidProducerEpoch.Code},
		{name: "next", seq: 25, count: 1, base: 115},
		{name: "next", seq: 26, count: 1, base: 116},
		{name: "next", seq: 27, count: 1, base: 117},
		{name: "next", seq: 28, count: 1, base: 118},
		{name: "older than the five remembered", seq: 15, count: 5, wantCode: kerr.DuplicateSequenceNumber.Code},
		{name: "new epoch restarts", epoch: 1, seq: 0, count: 2, base: 119},
		{name: "old epoch now stale", epoch: 0, seq: 29, count: 1, wantCode: kerr.InvalidProducerEpoch.Code},
	}
	for _, st := range steps {
		res, dup, code := s.admit(pp, st.epoch, st.seq, st.count)
		if dup != st.wantDup || code != st.wantCode {
			t.Fatalf("%s: dup %v code %d, want %v %d", st.name, dup, code, st.wantDup, st.wantCode)
		}
		switch {
		case code != 0:
		case dup:
			<-res.done
			if res.base != st.base || res.code != 0 {
				t.Fatalf("%s: answer %d/%d, want %d/0", st.name, res.base, res.code, st.base)
			}
		default:
			s.settle(pp, res, st.base, st.settle)
		}
	}
}

// TestSequencesPendingRetry: a retry arriving while the first write is in
// flight waits for, and gets, the first write's answer.
func TestSequencesPendingRetry(t *testing.T) {
	s := newSequences()
	pp := producerPartition{producerID: 1, topic: "t"}
	first, dup, code := s.admit(pp, 0, 0, 3)
	if dup || code != 0 {
		t.Fatalf("first: dup %v code %d", dup, code)
	}
	retry, dup, code := s.admit(pp, 0, 0, 3)
	if !dup || code != 0 || retry != first {
		t.Fatalf("retry: dup %v code %d same %v", dup, code, retry == first)
	}
	select {
	case <-retry.done:
		t.Fatal("retry answered before the first write settled")
	default:
	}
	s.settle(pp, first, 42, 0)
	<-retry.done
	if retry.base != 42 || retry.code != 0 {
		t.Fatalf("retry answer %d/%d, want 42/0", retry.base, retry.code)
	}
	s.forget(1)
	if _, dup, _ := s.admit(pp, 0, 0, 3); dup {
		t.Fatal("a forgotten producer's batch was a duplicate")
	}
}

// TestSequencesPipelinedFailure: a client pipelines three batches; the
// first fails upstream, so the sender fails the two behind it. The stream
// rewinds to the first one only, and the client's retries of all three
// are new writes, in order.
func TestSequencesPipelinedFailure(t *testing.T) {
	s := newSequences()
	pp := producerPartition{producerID: 3, topic: "t"}
	var inflight []*batchResult
	for _, seq := range []int32{0, 4, 8} {
		res, dup, code := s.admit(pp, 0, seq, 4)
		if dup || code != 0 {
			t.Fatalf("seq %d: dup %v code %d", seq, dup, code)
		}
		inflight = append(inflight, res)
	}
	s.settle(pp, inflight[0], -1, kerr.NotEnoughReplicas.Code)
	if _, _, code := s.admit(pp, 0, 12, 4); code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("a batch after the failed one: code %d, want NOT_LEADER_OR_FOLLOWER", code)
	}
	retry, dup, code := s.admit(pp, 0, 0, 4) // before the sender failed the others
	if dup || code != 0 {
		t.Fatalf("retry of the failed batch: dup %v code %d", dup, code)
	}
	s.settle(pp, inflight[1], -1, kerr.NotLeaderForPartition.Code)
	s.settle(pp, inflight[2], -1, kerr.NotLeaderForPartition.Code)
	s.settle(pp, retry, 100, 0)
	for i, seq := range []int32{4, 8} {
		res, dup, code := s.admit(pp, 0, seq, 4)
		if dup || code != 0 {
			t.Fatalf("retry of seq %d: dup %v code %d, want a new write", seq, dup, code)
		}
		s.settle(pp, res, int64(104+4*i), 0)
	}
	if res, dup, _ := s.admit(pp, 0, 8, 4); !dup || res.base != 108 {
		t.Fatalf("a second retry of seq 8: dup %v, want the answer of the first", dup)
	}
}
