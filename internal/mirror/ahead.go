package mirror

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Reading ahead while a commit waits.
//
// A commit waits for the target twice (the producer's acknowledgements of
// the transaction's records and state, then EndTxn) and the source consumer
// keeps only one fetch per broker buffered meanwhile. With a small memory
// budget that is about a megabyte per broker, so every transaction after
// the first started by waiting for fetches: with --memory-budget 64MiB
// the copy loop spent a third of its time in PollFetches (1.7 s at the
// default budget; bench/reports/mirror-budget.md).
//
// So a commit polls the source while it waits, and keeps what it polls,
// unexamined, for the next transaction (session.ahead): the fetch
// responses are taken out of the consumer, which then sends the next
// fetches. The memory for it is the memory the acknowledged records give
// back: an acknowledged record drops its key, value and headers (ack), so
// the fetch response they point into can be collected, and the commit
// holds at most as many bytes read ahead (with the records carried over,
// polled but not routed) as the target has acknowledged in this
// transaction, and at most the transaction bound. What the transaction
// held at its peak is therefore not exceeded.
//
// Nothing about exactness changes: the fetches are only held. The next
// transaction examines them first, in the order they were polled, exactly
// as if it had polled them itself (fetch errors included); positions,
// checkpoints and the offset map are untouched by a commit's polls. A
// session that ends drops them with its consumer, and the next one reads
// from the committed checkpoints.

// aheadState is a session's read-ahead.
type aheadState struct {
	// fetches were polled by commits and not examined yet, oldest first;
	// bytes is what their records count (memSize).
	fetches []kgo.Fetches
	bytes   int64
	// acked is what the open transaction's acknowledged records counted
	// (memSize), written by the producer's promise goroutine; ackSignal
	// wakes a commit waiting for room.
	acked     atomic.Int64
	ackSignal chan struct{}
}

// ack is called for every record the target acknowledged: the commit
// needs only its offset (the offset map), so its bytes are dropped, and
// the memory they held is counted as room for reading ahead. franz-go
// reads the record's size for its buffer accounting before calling the
// promise, and never reads the record after it.
func (a *aheadState) ack(r *kgo.Record) {
	a.acked.Add(memSize(recordSize(r)))
	r.Key, r.Value, r.Headers = nil, nil, nil
	select {
	case a.ackSignal <- struct{}{}:
	default:
	}
}

// whileReading runs wait (a flush or EndTxn of the commit) and polls the
// source ahead until it returns, within the room acknowledged records
// gave back. It returns wait's error.
func (s *session) whileReading(ctx context.Context, wait func(context.Context) error) error {
	if s.src == nil || len(s.order) == 0 {
		return wait(ctx)
	}
	// Records carried over (polled, not routed) are held too.
	var carried int64
	for _, c := range s.carry {
		for _, r := range c.recs {
			carried += memSize(recordSize(r))
		}
	}
	done := make(chan error, 1)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		err := wait(ctx)
		cancel()
		done <- err
	}()
	for {
		if carried+s.ahead.bytes < min(s.ahead.acked.Load(), s.buffers.txn) {
			fs := s.src.PollFetches(pctx)
			if n, keep := fetchedBytes(fs); keep {
				s.ahead.fetches = append(s.ahead.fetches, fs)
				s.ahead.bytes += n
			}
			if pctx.Err() == nil {
				continue
			}
		} else {
			select {
			case <-s.ahead.ackSignal:
				continue
			case <-pctx.Done():
			}
		}
		return <-done
	}
}

// takeAhead hands the fetches read ahead to the transaction, oldest first.
func (s *session) takeAhead(ctx context.Context) error {
	for len(s.ahead.fetches) > 0 {
		fs := s.ahead.fetches[0]
		s.ahead.fetches[0] = nil
		s.ahead.fetches = s.ahead.fetches[1:]
		if err := s.take(ctx, fs); err != nil {
			return err
		}
	}
	s.ahead.fetches, s.ahead.bytes = nil, 0
	return nil
}

// fetchedBytes is what the records of fs count against memory (memSize),
// and whether fs holds anything the transaction must see: records, or an
// error other than the end of the poll's context.
func fetchedBytes(fs kgo.Fetches) (n int64, keep bool) {
	fs.EachRecord(func(r *kgo.Record) { n += memSize(recordSize(r)) })
	keep = n > 0
	fs.EachError(func(_ string, _ int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			keep = true
		}
	})
	return n, keep
}
