package status

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/state"
)

// tail is how many offsets at the end of each target partition status
// reads to find records written natively on the target.
const tail = 200

// readTimeout bounds the reads status makes (first uncopied records,
// target tails).
const readTimeout = 5 * time.Second

// topicStatus builds one topic's status from the two samples and the state.
func topicStatus(ctx context.Context, in inputs, src, tgt string, snap *state.Snapshot, first, last offsets, o Options) (Topic, error) {
	t := Topic{Source: src, Target: tgt, Partitions: []Partition{}}
	if p, ok := snap.Promoted[src]; ok {
		tm := p.Time
		t.Promoted = &tm
	}
	if in.Source == nil {
		return topicFromTarget(ctx, in, t, snap, first, last)
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

	if err := fillNatives(ctx, in, &t, first, last); err != nil {
		return t, err
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

// fillNatives sets t's native writes on the target, from its last records.
func fillNatives(ctx context.Context, in inputs, t *Topic, first, last offsets) error {
	natives, err := nativeTail(ctx, in, t.Source, t.Target, last)
	if err != nil {
		return err
	}
	dt := last.at.Sub(first.at).Seconds()
	for _, n := range natives {
		if n.After(t.TargetLastNativeWrite) {
			t.TargetLastNativeWrite = n
		}
		if dt > 0 && !n.Before(first.at) && !n.After(last.at) {
			t.TargetNativeRate += 1 / dt
		}
	}
	return nil
}
