package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/state"
)

// resolveStarts sets the position of partitions without a checkpoint from
// the start rule, and moves every position that lies below the source log
// start up to it, recording the skipped range as expired.
func (s *session) resolveStarts(ctx context.Context, snap *state.Snapshot) error {
	topics := s.topicNames()
	starts, err := s.srcAdm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("source start offsets: %w", err)
	}
	if err := starts.Error(); err != nil {
		return fmt.Errorf("source start offsets: %w", err)
	}
	var fresh []*part
	for _, p := range s.order {
		if p.pos < 0 {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) > 0 {
		rule, err := StartOffsets(ctx, s.srcAdm, topics, s.settings, s.m.opts.Groups, starts)
		if err != nil {
			return err
		}
		for _, p := range fresh {
			p.pos = rule[p.tp]
			p.next = p.pos
			p.fresh = true
		}
	}
	for _, p := range s.order {
		ls, ok := starts.Lookup(p.tp.Topic, p.tp.Partition)
		if !ok {
			return fmt.Errorf("no log start offset for source partition %s", p.tp)
		}
		if p.pos < ls.Offset {
			s.expire(p, ls.Offset, "deleted on the source (retention or DeleteRecords) before it was copied")
		}
		if p.fresh {
			p.start = p.pos
		}
	}
	return nil
}

// StartOffsets applies the start rule of settings (Start, StartFallback)
// to every partition of topics on the source (adm), for partitions that
// have no checkpoint yet: earliest is the log start (starts, the source's
// log start offsets), latest the last stable offset, a timestamp the first
// record at or after it, committed the lowest offset any group of sel
// committed (StartFallback for partitions none did). Positions below the
// log start are the caller's to handle (they expired). `kmigrate plan`
// shows what a run would do with the same function.
func StartOffsets(ctx context.Context, adm *kadm.Client, topics []string, settings config.Mirror, sel config.Selection, starts kadm.ListedOffsets) (map[state.TopicPartition]int64, error) {
	out := map[state.TopicPartition]int64{}
	from := func(lo kadm.ListedOffsets) {
		lo.Each(func(o kadm.ListedOffset) {
			out[state.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset
		})
	}
	list := func(what string, fn func() (kadm.ListedOffsets, error)) error {
		lo, err := fn()
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			return fmt.Errorf("source %s offsets: %w", what, err)
		}
		from(lo)
		return nil
	}
	latest := func() (kadm.ListedOffsets, error) { return adm.ListCommittedOffsets(ctx, topics...) }
	st := settings.Start
	switch st.Kind {
	case config.StartEarliest:
		from(starts)
	case config.StartLatest:
		// The last stable offset, not the high watermark: records of a
		// transaction still open at the start are copied once it commits.
		if err := list("end", latest); err != nil {
			return nil, err
		}
	case config.StartTimestamp:
		if err := list("end", latest); err != nil {
			return nil, err
		}
		ends := out
		out = map[state.TopicPartition]int64{}
		if err := list("timestamp", func() (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, st.Timestamp.UnixMilli(), topics...)
		}); err != nil {
			return nil, err
		}
		for tp, o := range out {
			if o < 0 || o > ends[tp] {
				out[tp] = ends[tp] // nothing at or after the timestamp yet
			}
		}
	case config.StartCommitted:
		committed, err := committedOffsets(ctx, adm, topics, sel)
		if err != nil {
			return nil, err
		}
		fallback := starts
		if settings.StartFallback == config.StartLatest {
			if fallback, err = latest(); err == nil {
				err = fallback.Error()
			}
			if err != nil {
				return nil, fmt.Errorf("source end offsets: %w", err)
			}
		}
		from(fallback)
		for tp, o := range committed {
			if _, ok := out[tp]; ok {
				out[tp] = o
			}
		}
	default:
		return nil, fmt.Errorf("%w: unknown start position %q", errConfig, st.Kind)
	}
	return out, nil
}

// committedOffsets returns, per source partition, the lowest offset
// committed by any selected consumer group: everything from there on has
// not been consumed by at least one of them.
func committedOffsets(ctx context.Context, adm *kadm.Client, topics []string, sel config.Selection) (map[state.TopicPartition]int64, error) {
	names, err := groups.Selected(ctx, adm, sel)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	out := map[state.TopicPartition]int64{}
	for _, g := range names {
		offs, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			return nil, fmt.Errorf("committed offsets of group %s: %w", g, err)
		}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || !want[o.Topic] || o.At < 0 {
				return
			}
			tp := state.TopicPartition{Topic: o.Topic, Partition: o.Partition}
			if cur, ok := out[tp]; !ok || o.At < cur {
				out[tp] = o.At
			}
		})
	}
	return out, nil
}

// expire moves p's position up to logStart and records the skipped range.
func (s *session) expire(p *part, logStart int64, reason string) {
	e := state.Expired{From: p.pos, Until: logStart, Reason: reason, Detected: time.Now().UTC()}
	s.log.Warn("source records expired before they were copied; skipping them",
		"topic", p.tp.Topic, "partition", p.tp.Partition, "from", e.From, "until", e.Until, "count", e.Count(), "reason", reason)
	p.expired = append(p.expired, e)
	p.pos = logStart
	// Held records are re-fetched from the new position if they still
	// exist.
	s.dropHeld(p)
	p.seen = logStart
	s.m.stats.update(func(st *Stats, _ func(state.TopicPartition) *PartitionStats) {
		st.Expired = appendExpired(st.Expired, p.tp, e)
	})
}

func (s *session) topicNames() []string {
	out := make([]string, 0, len(s.topics))
	for _, t := range s.topics {
		out = append(out, t.Source)
	}
	return out
}
