package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/state"
)

// heartbeatInterval is how long an idle mirror goes without writing to the
// state topic.
const heartbeatInterval = 5 * time.Second

// commit flushes the transaction's records, writes the state they imply
// (checkpoints, offset map segments, expired ranges, meta) and commits it
// all together.
func (s *session) commit(ctx context.Context) error {
	var dirty []*part
	for _, p := range s.order {
		if len(p.recs) > 0 || p.pos != p.next || len(p.expired) > 0 || p.fresh || p.recovered {
			dirty = append(dirty, p)
		}
	}
	// The session's first commit announces this process (a heartbeat
	// naming it): another process that fails after being fenced by this
	// one reads it and stops instead of fencing back (Mirror.takenOver).
	heartbeat := !s.announced
	if len(dirty) == 0 && !s.writeMeta && !heartbeat {
		if time.Since(s.lastWrite) < heartbeatInterval {
			return s.end(ctx, false)
		}
		// Idle: write a heartbeat, which fails if another process has
		// fenced this one, so a fenced process notices even with nothing
		// to copy.
		heartbeat = true
	}
	if err := s.prod.Flush(ctx); err != nil {
		return fmt.Errorf("flush records: %w", err)
	}
	if err := s.checkProduced(); err != nil {
		return err
	}
	var stateRecs []*kgo.Record
	add := func(r *kgo.Record, err error) error {
		if err != nil {
			return err
		}
		stateRecs = append(stateRecs, r)
		return nil
	}
	now := time.Now().UTC()
	if s.writeMeta {
		if err := add(state.MetaRecord(s.stateTop, *s.meta)); err != nil {
			return err
		}
	}
	if heartbeat {
		host, _ := os.Hostname()
		hb := state.Heartbeat{Host: host, PID: os.Getpid(), Time: now, Instance: s.m.instance}
		if err := add(state.HeartbeatRecord(s.stateTop, hb)); err != nil {
			return err
		}
		if s.m.unitMode() {
			if err := add(state.UnitHeartbeatRecord(s.stateTop, s.m.opts.Unit, hb)); err != nil {
				return err
			}
		}
	}
	for _, p := range dirty {
		targetNext := int64(-1)
		for _, pr := range p.recs {
			if err := p.omap.add(pr.src, pr.r.Offset); err != nil {
				return fmt.Errorf("offset map of %s: %w", p.tp, err)
			}
			targetNext = pr.r.Offset + 1
		}
		if targetNext < 0 {
			targetNext = p.omap.targetEnd()
		}
		c := state.Checkpoint{Next: p.pos, TargetNext: targetNext, Records: p.records + int64(len(p.recs)), Updated: now}
		if p.start >= 0 {
			c.Start = &p.start
		}
		if err := add(state.CheckpointRecord(s.stateTop, p.tp, c)); err != nil {
			return err
		}
		for _, seg := range p.omap.dirty() {
			stateRecs = append(stateRecs, state.OffsetMapRecord(s.stateTop, p.tp, seg.first, seg.value))
		}
		for _, e := range p.expired {
			if err := add(state.ExpiredRecord(s.stateTop, p.tp, e)); err != nil {
				return err
			}
		}
	}
	for _, r := range stateRecs {
		s.prod.Produce(ctx, r, s.promise)
	}
	if err := s.prod.Flush(ctx); err != nil {
		return fmt.Errorf("flush state: %w", err)
	}
	if err := s.checkProduced(); err != nil {
		return err
	}
	if err := s.end(ctx, true); err != nil {
		return err
	}
	s.lastWrite = time.Now()
	// Committed: the transaction's positions are now the checkpoints.
	var records, bytes int64
	for _, p := range dirty {
		p.next = p.pos
		p.records += int64(len(p.recs))
		records += int64(len(p.recs))
		bytes += p.bytes
		p.omap.committed()
	}
	s.m.stats.update(func(st *Stats, get func(state.TopicPartition) *PartitionStats) {
		st.Records += records
		st.Bytes += bytes
		st.Transactions++
		for _, p := range dirty {
			ps := get(p.tp)
			ps.Records += int64(len(p.recs))
			ps.Bytes += p.bytes
			ps.Next = p.next
			ps.HighWatermark = max(ps.HighWatermark, p.hwm)
			ps.Lag = max(0, ps.HighWatermark-p.next)
		}
	})
	for _, p := range dirty {
		clear(p.recs) // drop the references so the records can be collected
		p.recs, p.bytes, p.expired, p.fresh, p.recovered = p.recs[:0], 0, nil, false, false
	}
	s.writeMeta = false
	s.announced = true
	return nil
}

// end ends the transaction (exactly-once) with a commit or an abort.
func (s *session) end(ctx context.Context, commit bool) error {
	if !s.exactly {
		return nil
	}
	if err := s.prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		return s.producerErr("commit transaction", err)
	}
	return nil
}

// checkProduced turns a failed produce into the session's error. A record
// the target refuses as too large stops its partition at that record.
func (s *session) checkProduced() error {
	s.produceMu.Lock()
	err, rec := s.produceErr, s.failedRec
	s.produceMu.Unlock()
	if err == nil {
		return nil
	}
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
		for _, p := range s.order {
			for _, pr := range p.recs {
				if pr.r == rec {
					s.stop(p, fmt.Errorf("%s offset %d: the target refused the record as too large for topic %s: raise max.message.bytes on the target topic and run again; nothing after it in this partition was copied", p.tp, pr.src, p.target))
				}
			}
		}
	}
	if isFenced(err) {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return err
}
