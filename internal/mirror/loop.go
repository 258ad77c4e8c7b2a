package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// commitTimeout bounds the final commit after a stop was requested.
const commitTimeout = time.Minute

// loop runs transactions until the copy is done, ctx is cancelled, or an
// error ends the session.
func (s *session) loop(ctx context.Context) error {
	// Commit the start positions, expired ranges and meta before copying,
	// so that a crash cannot change where a partition starts.
	if err := s.transaction(ctx, func(context.Context) (bool, error) { return false, nil }); err != nil {
		return err
	}
	for !s.allDone() {
		stop := false
		err := s.transaction(ctx, func(ctx context.Context) (bool, error) {
			var err error
			stop, err = s.fill(ctx)
			return stop, err
		})
		if err != nil {
			return err
		}
		if stop {
			return ctx.Err()
		}
		if s.overflowed {
			if err := s.resolveHeld(ctx); err != nil {
				return err
			}
		}
		if s.m.reloadRequested() {
			return errReload
		}
	}
	return nil
}

// transaction runs fill inside a transaction and commits it, with what the
// transaction changed in the state topic.
func (s *session) transaction(ctx context.Context, fill func(context.Context) (bool, error)) error {
	if s.exactly {
		if err := s.prod.BeginTransaction(); err != nil {
			return s.producerErr("begin transaction", err)
		}
	}
	s.slab = s.slab[:0]
	_, ferr := fill(ctx)
	// The commit must finish even when a stop was requested: it is what
	// makes the records copied so far count.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if ferr != nil {
		s.abort(cctx)
		return ferr
	}
	if err := s.commit(cctx); err != nil {
		s.abort(cctx)
		return err
	}
	return nil
}

// fill polls the source and produces copies until the transaction is full,
// its interval has passed, a bounded copy reached its end, or ctx ends
// (stop is then true). A poll can return more than fits: what does not fit
// is carried over to the next transaction, so TransactionMaxBytes holds.
func (s *session) fill(ctx context.Context) (stop bool, err error) {
	deadline := time.Now().Add(s.settings.TransactionInterval)
	s.txnBytes = 0
	s.releaseAll()
	if !s.drainCarry() {
		return false, nil
	}
	if len(s.order) == 0 {
		// A unit without partitions (yet): the transaction only
		// heartbeats; a reload brings partitions added since.
		return s.idle(ctx, deadline), nil
	}
	for {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fs := s.src.PollFetches(pctx)
		cancel()
		if err := s.fetchErrors(ctx, fs); err != nil {
			return false, err
		}
		var n int
		var bytes int64
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			p := s.parts[state.TopicPartition{Topic: fp.Topic, Partition: fp.Partition}]
			if p == nil {
				return
			}
			p.hwm = max(p.hwm, fp.HighWatermark)
			if len(fp.Records) > 0 {
				s.carry = append(s.carry, carried{p: p, recs: fp.Records})
			}
			for _, r := range fp.Records {
				n++
				bytes += int64(len(r.Key) + len(r.Value))
				for _, h := range r.Headers {
					bytes += int64(len(h.Key) + len(h.Value))
				}
			}
		})
		if size, changed := s.fetchSize.observe(n, bytes); changed {
			s.src.UpdateFetchMaxBytes(size, partitionFetchBytes(size))
		}
		room := s.drainCarry()
		switch {
		case s.produceFailed():
			return false, nil // commit fails and reports it
		case ctx.Err() != nil:
			return true, nil
		case !room || !time.Now().Before(deadline) || s.reachedEnd():
			return false, nil
		}
	}
}

// carried are polled records of one partition not yet routed.
type carried struct {
	p    *part
	recs []*kgo.Record
}

// drainCarry routes carried records, oldest first, until the transaction
// is full, and reports whether there is room left.
func (s *session) drainCarry() bool {
	for len(s.carry) > 0 {
		c := &s.carry[0]
		for len(c.recs) > 0 {
			if s.txnBytes >= s.buffers.txn || s.overflowed {
				return false
			}
			s.route(c.p, c.recs[0])
			c.recs = c.recs[1:]
		}
		s.carry[0] = carried{}
		s.carry = s.carry[1:]
	}
	s.carry = nil
	return s.txnBytes < s.buffers.txn && !s.overflowed
}

// fetchErrors handles per-partition fetch errors: expired offsets are
// recorded and skipped; anything else ends the session.
func (s *session) fetchErrors(ctx context.Context, fs kgo.Fetches) error {
	var errs []error
	fs.EachError(func(topic string, partition int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		p := s.parts[state.TopicPartition{Topic: topic, Partition: partition}]
		if p != nil && errors.Is(err, kerr.OffsetOutOfRange) {
			errs = append(errs, s.outOfRange(ctx, p))
			return
		}
		errs = append(errs, fmt.Errorf("fetch %s/%d: %w", topic, partition, err))
	})
	return errors.Join(errs...)
}

// outOfRange handles a position the source no longer has.
func (s *session) outOfRange(ctx context.Context, p *part) error {
	starts, err := s.srcAdm.ListStartOffsets(ctx, p.tp.Topic)
	if err != nil {
		return fmt.Errorf("source start offset of %s: %w", p.tp, err)
	}
	ls, ok := starts.Lookup(p.tp.Topic, p.tp.Partition)
	if !ok || ls.Err != nil {
		return fmt.Errorf("source start offset of %s: %v", p.tp, ls.Err)
	}
	if p.pos >= ls.Offset {
		return fmt.Errorf("source partition %s: offset %d is out of range but not below the log start %d: the source log was truncated (unclean leader election?); kmigrate will not guess", p.tp, p.pos, ls.Offset)
	}
	s.expire(p, ls.Offset, "deleted on the source (retention or DeleteRecords) while copying")
	s.src.SetOffsets(map[string]map[int32]kgo.EpochOffset{p.tp.Topic: {p.tp.Partition: {Epoch: -1, Offset: ls.Offset}}})
	return nil
}

// route copies one consumed record, or just advances past it. Records of
// source transactions whose end has not been read yet are held (txn.go).
func (s *session) route(p *part, r *kgo.Record) {
	if r.Offset < p.pos || r.Offset < p.seen || s.m.stopped[p.tp] != nil {
		return // already handled: a re-fetch after a reset
	}
	if p.end >= 0 && r.Offset >= p.end {
		// Past a bounded copy's end only the markers of held
		// transactions matter: the copy stops at the end.
		if len(p.held) > 0 && r.Attrs.IsControl() {
			p.learn(r)
			s.release(p)
		}
		if len(p.held) == 0 {
			s.src.PauseFetchPartitions(map[string][]int32{p.tp.Topic: {p.tp.Partition}})
		}
		return
	}
	p.seen = r.Offset + 1
	if len(p.held) > 0 || !p.resolved(r) {
		s.hold(p, r)
		return
	}
	s.handle(p, r)
}

// handle copies r or advances past it; r's transaction, if any, is known
// to have ended.
func (s *session) handle(p *part, r *kgo.Record) {
	if r.Attrs.IsControl() {
		p.pos = r.Offset + 1
		return
	}
	if pendingTxn(r) {
		if commit, _ := p.outcome(r); !commit {
			s.dropAborted(p, r)
			return
		}
	}
	if _, k, _ := trace.FromCluster(r.Headers, s.m.opts.TargetID); k == trace.Copy {
		p.pos = r.Offset + 1 // came from the target: never copy it back (a corrupt header is copied: trace doc)
		return
	}
	size := recordSize(r)
	src := r.Offset
	headers := trace.Strip(r.Headers)
	if s.settings.TracingHeaders {
		start := len(s.slab)
		if cap(s.slab)-start < 128 {
			s.slab, start = make([]byte, 0, 64<<10), 0
		}
		s.slab = p.enc.Append(s.slab, r.Partition, src, r.Timestamp.UnixMilli())
		h := make([]kgo.RecordHeader, len(headers), len(headers)+1)
		copy(h, headers)
		headers = append(h, kgo.RecordHeader{Key: trace.HeaderKey, Value: s.slab[start:len(s.slab):len(s.slab)]})
	}
	if n := batchBytes(r.Key, r.Value, headers); n > p.maxBatch {
		s.stop(p, fmt.Errorf("%s offset %d: record of %d bytes (in a record batch of its own, with the tracing header) is larger than target topic %s accepts (max.message.bytes %d): raise max.message.bytes on the target topic and run again; nothing after it in this partition was copied",
			p.tp, r.Offset, n, p.target, p.maxBatch))
		return
	}
	// The consumed record is reused as the produced one: it is not used
	// again, and this saves an allocation per record.
	r.Topic = p.target
	r.Headers = headers
	r.Offset = 0
	p.pos = src + 1
	p.recs = append(p.recs, pending{src: src, r: r})
	p.bytes += int64(size)
	s.txnBytes += memSize(size)
	s.prod.Produce(context.WithoutCancel(context.Background()), r, s.promise)
}

// batchBytes is the size of a record batch holding only a record with
// key, value and headers, as franz-go counts it before refusing a record too
// large for its topic's batch limit (maxBatchBytes): the 61-byte batch
// header, the 4-byte length prefix of the batch in the request, and the
// record with its varint framing (attributes, and timestamp and offset
// deltas of 0 as the first record of its batch).
func batchBytes(key, value []byte, headers []kgo.RecordHeader) int {
	l := 3 + kbin.VarintLen(int32(len(key))) + len(key) +
		kbin.VarintLen(int32(len(value))) + len(value) +
		kbin.VarintLen(int32(len(headers)))
	for _, h := range headers {
		l += kbin.VarintLen(int32(len(h.Key))) + len(h.Key) + kbin.VarintLen(int32(len(h.Value))) + len(h.Value)
	}
	return 61 + 4 + kbin.VarintLen(int32(l)) + l
}

func (s *session) promise(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	s.produceMu.Lock()
	defer s.produceMu.Unlock()
	if s.produceErr == nil {
		s.produceErr = fmt.Errorf("produce to %s/%d: %w", r.Topic, r.Partition, err)
		s.failedRec = r
	}
}

func (s *session) produceFailed() bool {
	s.produceMu.Lock()
	defer s.produceMu.Unlock()
	return s.produceErr != nil
}

// stop ends copying of p for this Run: the records before the failing one
// are committed, the error is reported.
func (s *session) stop(p *part, err error) {
	s.log.Error("partition stopped", "topic", p.tp.Topic, "partition", p.tp.Partition, "err", err)
	s.m.stopped[p.tp] = err
	s.src.RemoveConsumePartitions(map[string][]int32{p.tp.Topic: {p.tp.Partition}})
	s.m.stats.update(func(_ *Stats, get func(state.TopicPartition) *PartitionStats) { get(p.tp).Stopped = err.Error() })
}

func (s *session) reachedEnd() bool {
	if s.settings.Until != config.UntilEnd {
		return false
	}
	for _, p := range s.order {
		if p.pos < p.end && s.m.stopped[p.tp] == nil {
			return false
		}
	}
	return true
}

func (s *session) abort(ctx context.Context) {
	if !s.exactly {
		return
	}
	if err := s.prod.AbortBufferedRecords(ctx); err != nil {
		s.log.Debug("abort buffered records", "err", err)
	}
	if err := s.prod.EndTransaction(ctx, kgo.TryAbort); err != nil {
		s.log.Debug("abort transaction", "err", err)
	}
}

func (s *session) producerErr(what string, err error) error {
	if isFenced(err) {
		return fmt.Errorf("%w: %s: %w", ErrFenced, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
