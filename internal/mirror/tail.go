package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// recoverTail is the at-least-once resume. Without transactions, records
// can reach the target after the last checkpoint was written (the process
// died between the two). Their tracing headers say which source records
// they are, so the records past the last mapped target offset are read:
// each one this partition copied extends the offset map, and the position
// moves past it. What remains possible is a duplicate of records that were
// in flight, unacknowledged, when the process died: that is the
// at-least-once trade-off.
func (s *session) recoverTail(ctx context.Context) error {
	if s.exactly || !s.settings.TracingHeaders {
		return nil
	}
	o := &s.m.opts
	var targets []string
	for _, t := range s.topics {
		targets = append(targets, t.Target)
	}
	ends, err := s.tgtAdm.ListEndOffsets(ctx, targets...)
	if err != nil {
		return fmt.Errorf("target end offsets: %w", err)
	}
	from := map[string]map[int32]kgo.Offset{}
	byTarget := map[state.TopicPartition]*part{}
	want := map[state.TopicPartition]int64{}
	for _, p := range s.order {
		ttp := state.TopicPartition{Topic: p.target, Partition: p.tp.Partition}
		end, ok := ends.Lookup(p.target, p.tp.Partition)
		if !ok || end.Err != nil {
			continue
		}
		start := max(p.omap.targetEnd(), 0)
		if start >= end.Offset {
			continue
		}
		if from[p.target] == nil {
			from[p.target] = map[int32]kgo.Offset{}
		}
		from[p.target][p.tp.Partition] = kgo.NewOffset().At(start)
		byTarget[ttp] = p
		want[ttp] = end.Offset
	}
	if len(want) == 0 {
		return nil
	}
	opts, err := cluster.Opts(o.Target, nil)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(append(opts, o.TargetOpts...), kgo.ConsumePartitions(from),
		kgo.DisableFetchSessions())...) // no fetch sessions: see doc.go
	if err != nil {
		return fmt.Errorf("target tail reader: %w", err)
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("%s/%d: %w", t, p, err)) })
		if ferr != nil {
			return fmt.Errorf("read target tail: %w", ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			ttp := state.TopicPartition{Topic: r.Topic, Partition: r.Partition}
			p := byTarget[ttp]
			if p == nil {
				return
			}
			if r.Offset+1 >= want[ttp] {
				delete(want, ttp)
			}
			o, k, _ := trace.Of(r.Headers, trace.Source{ClusterID: s.m.opts.SourceID, Topic: p.tp.Topic, Partition: p.tp.Partition})
			if k != trace.Copy {
				return // native, another partition's copy, or corrupt: not a copy to recover
			}
			if o.Offset < p.pos || p.omap.add(o.Offset, r.Offset) != nil {
				return // already accounted for
			}
			p.pos = o.Offset + 1
			p.recovered = true
		})
	}
	return nil
}
