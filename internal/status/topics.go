package status

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// tail is how many offsets at the end of each target partition status
// reads to find records written natively on the target.
const tail = 200

// readTimeout bounds the reads status makes (first uncopied records,
// target tails).
const readTimeout = 5 * time.Second

// topicStatus builds one topic's status from the two samples and the state.
func topicStatus(ctx context.Context, in Inputs, src, tgt string, snap *state.Snapshot, first, last offsets, o Options) (Topic, error) {
	t := Topic{Source: src, Target: tgt, Partitions: []Partition{}}
	if p, ok := snap.Promoted[src]; ok {
		tm := p.Time
		t.Promoted = &tm
	}
	dt := last.at.Sub(first.at).Seconds()
	lagging := map[int32]int64{}
	last.srcEnds.Each(func(e kadm.ListedOffset) {
		if e.Topic != src {
			return
		}
		cp := snap.Checkpoints[state.TopicPartition{Topic: src, Partition: e.Partition}]
		p := Partition{Partition: e.Partition, SourceEnd: e.Offset, Next: cp.Next, Lag: max(0, e.Offset-cp.Next)}
		if te, ok := last.tgtEnds.Lookup(tgt, e.Partition); ok {
			p.TargetEnd = te.Offset
		}
		if p.Lag > 0 {
			lagging[e.Partition] = cp.Next
		}
		t.Lag += p.Lag
		t.Partitions = append(t.Partitions, p)
		if f, ok := first.srcEnds.Lookup(src, e.Partition); ok && dt > 0 {
			t.SourceWriteRate += float64(e.Offset-f.Offset) / dt
		}
		if m, ok := last.srcMaxTS.Lookup(src, e.Partition); ok && m.Err == nil && m.Offset >= 0 && m.Timestamp >= 0 {
			if ts := time.UnixMilli(m.Timestamp).UTC(); ts.After(t.SourceLastWrite) {
				t.SourceLastWrite = ts
			}
		}
	})
	slices.SortFunc(t.Partitions, func(a, b Partition) int { return int(a.Partition - b.Partition) })

	// Lag in time: the age of each lagging partition's first uncopied
	// record.
	if len(lagging) > 0 {
		firsts, err := firstRecords(ctx, in.Source, src, lagging, last.srcEnds)
		if err != nil {
			return t, err
		}
		for i := range t.Partitions {
			p := &t.Partitions[i]
			if ts, ok := firsts[p.Partition]; ok {
				p.LagSeconds = max(0, o.Now().Sub(ts).Seconds())
				t.LagSeconds = max(t.LagSeconds, p.LagSeconds)
			}
		}
	}

	natives, err := nativeTail(ctx, in, src, tgt, last)
	if err != nil {
		return t, err
	}
	for _, n := range natives {
		if n.After(t.TargetLastNativeWrite) {
			t.TargetLastNativeWrite = n
		}
		if dt > 0 && !n.Before(first.at) && !n.After(last.at) {
			t.TargetNativeRate += 1 / dt
		}
	}

	switch {
	case t.Promoted != nil:
		t.State = "promoted"
	case t.Lag == 0:
		t.State = "caught-up"
	default:
		t.State = "mirroring"
	}
	now := o.Now()
	sourceActive := t.SourceWriteRate > 0 || (!t.SourceLastWrite.IsZero() && now.Sub(t.SourceLastWrite) < o.Quiet)
	targetNative := !t.TargetLastNativeWrite.IsZero() && t.TargetLastNativeWrite.After(t.SourceLastWrite)
	switch {
	case sourceActive:
		t.Producers = ProducersSource
	case targetNative:
		t.Producers = ProducersTarget
	default:
		t.Producers = ProducersNone
	}
	return t, nil
}

// consumer returns a client like cl consuming the given offsets.
func consumer(cl *kgo.Client, offsets map[string]map[int32]kgo.Offset) (*kgo.Client, error) {
	c, err := kgo.NewClient(append(cl.Opts(),
		kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		// Markers are returned too, so that a reader sees every offset
		// up to the end it waits for.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("status reader: %w", err)
	}
	return c, nil
}

// firstRecords returns the timestamp of the first readable record at or
// after each partition's offset, below its end.
func firstRecords(ctx context.Context, cl *kgo.Client, topic string, from map[int32]int64, ends kadm.ListedOffsets) (map[int32]time.Time, error) {
	offs := map[string]map[int32]kgo.Offset{topic: {}}
	for p, o := range from {
		offs[topic][p] = kgo.NewOffset().At(o)
	}
	c, err := consumer(cl, offs)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	out := map[int32]time.Time{}
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	for len(out) < len(from) && rctx.Err() == nil {
		fs := c.PollFetches(rctx)
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				return
			}
			if _, ok := out[r.Partition]; !ok {
				out[r.Partition] = r.Timestamp
				c.PauseFetchPartitions(map[string][]int32{topic: {r.Partition}})
			}
		})
	}
	return out, ctx.Err()
}

// nativeTail reads the last offsets of each target partition and returns
// the timestamps of the records there that are not copies from the source
// cluster (no tracing header naming it).
func nativeTail(ctx context.Context, in Inputs, src, tgt string, last offsets) ([]time.Time, error) {
	offs := map[string]map[int32]kgo.Offset{tgt: {}}
	ends := map[int32]int64{}
	last.tgtEnds.Each(func(e kadm.ListedOffset) {
		if e.Topic != tgt {
			return
		}
		start := int64(0)
		if s, ok := last.tgtStarts.Lookup(tgt, e.Partition); ok {
			start = s.Offset
		}
		from := max(start, e.Offset-tail)
		if from < e.Offset {
			offs[tgt][e.Partition] = kgo.NewOffset().At(from)
			ends[e.Partition] = e.Offset
		}
	})
	if len(ends) == 0 {
		return nil, nil
	}
	c, err := consumer(in.Target, offs)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []time.Time
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	for len(ends) > 0 && rctx.Err() == nil {
		fs := c.PollFetches(rctx)
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if r.Offset+1 >= ends[p.Partition] {
					delete(ends, p.Partition)
					c.PauseFetchPartitions(map[string][]int32{tgt: {p.Partition}})
				}
				if r.Attrs.IsControl() {
					continue
				}
				o, ok, _ := trace.FindRaw(r.Headers)
				if !ok || string(o.ClusterID) != in.SourceID {
					out = append(out, r.Timestamp.UTC())
				}
			}
		})
	}
	return out, ctx.Err()
}
