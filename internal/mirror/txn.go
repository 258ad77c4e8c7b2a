package mirror

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/state"
)

// Source transactions: the rule.
//
// A record from a transactional source batch is copied only once the
// source's marker for its transaction has been read and says COMMIT. Until
// then it is held, with every later record of its partition (order), and
// the partition's checkpoint stays before it; an ABORT marker drops the
// held records of that transaction.
//
// read_committed alone is not enough: a broker tells a reader which
// transactions were aborted with a list in each Fetch response, and a
// broker that leaves the list out (kfake does once a response reaches the
// request-wide size limit; a buggy or misconfigured broker could) makes
// aborted records look committed. The markers are in the log itself, so
// holding until the marker makes the copy exact whatever the list says. On
// a broker that sends the list, aborted records never arrive and the
// markers merely confirm what was delivered; the cost is holding a
// transaction's records until its marker, which is usually in the same
// fetch.
//
// A marker can be far behind its records only when the source holds a
// long transaction, and then a read_committed reader is held back at the
// last stable offset anyway. The held records count against the
// transaction bound: a partition that must hold more than that stops with
// an error naming the producer and the fix (a larger memory budget), and
// nothing from the held offset on is copied.

// outcome is how one source transaction ended: its marker's offset and
// whether it committed.
type outcome struct {
	marker int64
	commit bool
}

// controlCommit reports whether a control record is a COMMIT marker: its key
// is a version (int16) and a type (int16), 0 for ABORT, 1 for COMMIT.
func controlCommit(r *kgo.Record) (commit, ok bool) {
	if len(r.Key) < 4 {
		return false, false
	}
	switch binary.BigEndian.Uint16(r.Key[2:4]) {
	case 0:
		return false, true
	case 1:
		return true, true
	}
	return false, false
}

// pendingTxn reports whether r is a data record of a source transaction.
func pendingTxn(r *kgo.Record) bool {
	return r.Attrs.IsTransactional() && !r.Attrs.IsControl()
}

// hold keeps r until the outcome of the transactions before it is known,
// and releases what became known.
func (s *session) hold(p *part, r *kgo.Record) {
	p.held = append(p.held, r)
	sz := memSize(recordSize(r))
	p.heldBytes += sz
	s.heldBytes += sz
	if r.Attrs.IsControl() {
		p.learn(r)
		s.release(p)
	}
	if s.heldBytes > s.buffers.txn {
		s.overflow()
	}
}

// learn records the outcome a marker gives.
func (p *part) learn(r *kgo.Record) {
	commit, ok := controlCommit(r)
	if !ok {
		return
	}
	if p.outcomes == nil {
		p.outcomes = map[int64][]outcome{}
	}
	p.outcomes[r.ProducerID] = append(p.outcomes[r.ProducerID], outcome{marker: r.Offset, commit: commit})
}

// release handles held records from the oldest on, up to the first whose
// transaction has no known outcome.
func (s *session) release(p *part) {
	for len(p.held) > 0 {
		r := p.held[0]
		if pendingTxn(r) {
			if _, known := p.outcome(r); !known {
				return
			}
		}
		p.held[0] = nil
		p.held = p.held[1:]
		sz := memSize(recordSize(r))
		p.heldBytes -= sz
		s.heldBytes -= sz
		s.handle(p, r)
	}
	// Every marker seen so far is behind every record still to come.
	p.held, p.outcomes = nil, nil
}

// outcome returns how r's transaction ended, if its marker has been read:
// the first marker of r's producer after r.
func (p *part) outcome(r *kgo.Record) (commit, known bool) {
	for _, o := range p.outcomes[r.ProducerID] {
		if o.marker > r.Offset {
			return o.commit, true
		}
	}
	return false, false
}

// dropAborted advances past a record of an aborted source transaction
// that the source delivered to a read_committed reader.
func (s *session) dropAborted(p *part, r *kgo.Record) {
	p.pos = r.Offset + 1
	p.aborted++
	s.m.stats.update(func(st *Stats, get func(state.TopicPartition) *PartitionStats) {
		st.AbortedDropped++
		get(p.tp).AbortedDropped++
	})
	if p.aborted == 1 {
		s.log.Warn("the source delivered records of an aborted transaction to a read_committed reader (its fetch response lacked the aborted-transactions list); kmigrate drops them by the transaction's marker",
			"topic", p.tp.Topic, "partition", p.tp.Partition, "producer_id", r.ProducerID, "offset", r.Offset)
	}
}

// overflow stops the partition holding the most bytes when held records
// exceed the transaction bound.
func (s *session) overflow() {
	var big *part
	for _, p := range s.order {
		if len(p.held) > 0 && (big == nil || p.heldBytes > big.heldBytes) {
			big = p
		}
	}
	if big == nil {
		return
	}
	head := big.held[0]
	for _, r := range big.held {
		if pendingTxn(r) {
			if _, known := big.outcome(r); !known {
				head = r
				break
			}
		}
	}
	err := fmt.Errorf("%s offset %d: the source transaction of producer id %d has not ended after %d bytes of records in this partition, more than the %d bytes kmigrate may hold (it copies a transactional record only once the transaction's commit marker is read): raise --memory-budget or transaction_max_bytes and run again; nothing from offset %d on in this partition was copied",
		big.tp, head.Offset, head.ProducerID, big.heldBytes, s.buffers.txn, big.held[0].Offset)
	s.dropHeld(big)
	s.stop(big, err)
}

// dropHeld forgets p's held records: they will be fetched again.
func (s *session) dropHeld(p *part) {
	s.heldBytes -= p.heldBytes
	clear(p.held)
	p.held, p.heldBytes, p.outcomes = nil, 0, nil
}

// recordSize is the key, value and header bytes of r.
func recordSize(r *kgo.Record) int {
	size := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		size += len(h.Key) + len(h.Value)
	}
	return size
}
