package mirror

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
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
// A marker can be far behind its records when a source transaction is
// large (or long, and then a read_committed reader is held back at the
// last stable offset anyway). Held records count against the transaction
// bound: past it, the session commits what it has and, between
// transactions, reads the partition ahead with a second consumer
// (read_uncommitted, markers only, bounded fetches) to the marker of the
// oldest unresolved transaction, then releases what it holds; later
// records of that transaction are judged by the marker already read. Only
// if the marker cannot be found (a read error, or none within
// resolveTimeout) does the partition stop, with an error naming the
// producer, and nothing from the held offset on is copied.

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
	}
	s.release(p)
	if s.heldBytes > s.buffers.txn {
		s.overflowed = true
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
		if !p.resolved(r) {
			return
		}
		p.held[0] = nil
		p.held = p.held[1:]
		sz := memSize(recordSize(r))
		p.heldBytes -= sz
		s.heldBytes -= sz
		s.handle(p, r)
	}
	p.held = nil
	// Markers behind every record still to come are of no more use; one
	// read ahead (resolveHeld) may still be.
	for pid, os := range p.outcomes {
		os = slices.DeleteFunc(os, func(o outcome) bool { return o.marker < p.seen })
		if len(os) == 0 {
			delete(p.outcomes, pid)
		} else {
			p.outcomes[pid] = os
		}
	}
}

// resolved reports whether r can be handled now: it is not a source
// transaction's record, or its transaction's end is known.
func (p *part) resolved(r *kgo.Record) bool {
	if !pendingTxn(r) {
		return true
	}
	_, known := p.outcome(r)
	return known
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

// resolveTimeout bounds a read ahead for one transaction marker.
const resolveTimeout = 2 * time.Minute

// resolveHeld runs between transactions once held records exceed the
// transaction bound: for the partition holding the most, it reads ahead to
// the marker of the oldest unresolved transaction; the next transaction
// releases what became known (fill). A marker it cannot find stops the
// partition.
func (s *session) resolveHeld(ctx context.Context) error {
	s.overflowed = false
	var big *part
	for _, p := range s.order {
		if len(p.held) > 0 && (big == nil || p.heldBytes > big.heldBytes) {
			big = p
		}
	}
	if big == nil {
		return nil
	}
	head := big.held[0] // unresolved: release stopped there
	s.log.Info("source transaction larger than the transaction bound: reading ahead to its marker",
		"topic", big.tp.Topic, "partition", big.tp.Partition, "producer_id", head.ProducerID, "offset", head.Offset, "held_bytes", big.heldBytes)
	o, err := s.readAhead(ctx, big, head.ProducerID)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = fmt.Errorf("%s offset %d: the source transaction of producer id %d has not ended after %d bytes of records in this partition, and its marker could not be read ahead (%w); kmigrate copies a transactional record only once the transaction's commit marker is read: raise --memory-budget or transaction_max_bytes so the transaction fits, and run again; nothing from offset %d on in this partition was copied",
			big.tp, head.Offset, head.ProducerID, big.heldBytes, err, big.held[0].Offset)
		s.dropHeld(big)
		s.stop(big, err)
		return nil
	}
	if big.outcomes == nil {
		big.outcomes = map[int64][]outcome{}
	}
	big.outcomes[head.ProducerID] = append(big.outcomes[head.ProducerID], o)
	return nil
}

// releaseAll releases what every partition holds and may now copy (at the
// start of a transaction, after resolveHeld learned a marker).
func (s *session) releaseAll() {
	for _, p := range s.order {
		if len(p.held) > 0 {
			s.release(p)
		}
	}
}

// readAhead reads p from the first offset not routed yet to the next
// marker of producer, with its own consumer (read_uncommitted: only
// markers are looked at, and the marker of a transaction whose records a
// read_committed fetch returned is written).
func (s *session) readAhead(ctx context.Context, p *part, producer int64) (outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	o := &s.m.opts
	copts, err := cluster.Opts(o.Source, o.Logger)
	if err != nil {
		return outcome{}, err
	}
	fetch := min(s.buffers.fetch, 4<<20)
	cl, err := kgo.NewClient(append(append(copts, o.SourceOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.tp.Topic: {p.tp.Partition: kgo.NewOffset().At(p.seen)}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxBytes(fetch),
		kgo.FetchMaxPartitionBytes(fetch),
		kgo.DisableFetchSessions(), // no fetch sessions: see doc.go
	)...)
	if err != nil {
		return outcome{}, err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return outcome{}, fmt.Errorf("no marker by offset %d within %v", p.seen, resolveTimeout)
		}
		if err := fs.Err(); err != nil {
			return outcome{}, err
		}
		var found *outcome
		fs.EachRecord(func(r *kgo.Record) {
			if found != nil || !r.Attrs.IsControl() || r.ProducerID != producer {
				return
			}
			if commit, ok := controlCommit(r); ok {
				found = &outcome{marker: r.Offset, commit: commit}
			}
		})
		if found != nil {
			return *found, nil
		}
	}
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
