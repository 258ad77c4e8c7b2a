package groups

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/state"
)

// NativeCache remembers, per target partition, the records written
// natively among the copies, up to the offset it has read them to. What
// lies below the end of the copies is final (the log is append-only and
// only committed data is read), so a later report reads only the gaps
// the mirror added since. A long-running process (the mirror serving
// /v1/status, status --watch) keeps one; nil means a fresh one per report.
// Safe for concurrent use.
type NativeCache struct {
	mu    sync.Mutex
	parts map[nativeKey]nativesRead
}

type nativeKey struct {
	topic     string
	partition int32
}

// nativesRead is what has been read of one target partition: natives
// below to.
type nativesRead struct {
	to      int64
	natives []NativeRange
}

// NewNativeCache returns an empty cache.
func NewNativeCache() *NativeCache { return &NativeCache{parts: map[nativeKey]nativesRead{}} }

// natives returns the natives of target partition topic/p (the copies of
// src, mapped by part) below to, reading only what the cache has not.
func (c *NativeCache) natives(ctx context.Context, cl *kgo.Client, topic string, p int32, part Partition, to int64, src SourcePartition) ([]NativeRange, error) {
	k := nativeKey{topic, p}
	c.mu.Lock()
	have := c.parts[k]
	c.mu.Unlock()
	if have.to >= to {
		rs, _ := below(have.natives, to)
		return rs, nil
	}
	more, err := gapNatives(ctx, cl, topic, p, part.Map, have.to, to, src)
	if err != nil {
		return nil, err
	}
	all := append([]NativeRange(nil), have.natives...)
	for _, r := range more {
		if n := len(all); n > 0 && all[n-1].To == r.From {
			all[n-1].To = r.To
		} else {
			all = append(all, r)
		}
	}
	c.mu.Lock()
	if c.parts[k].to < to { // a concurrent read may have gone further
		c.parts[k] = nativesRead{to: to, natives: all}
	}
	c.mu.Unlock()
	return all, nil
}

// UnreachableFinder fills in the unreachable natives of the groups List
// reports (groups list, plan, status) and of verify's groups: for each
// mirrored partition it reads the gaps of the target partition below the
// end of the copies (once, through a NativeCache) and counts, for each
// group, the natives below its reach bound. It only reads.
type UnreachableFinder struct {
	tgt      *kgo.Client
	sourceID string
	snap     *state.Snapshot
	cache    *NativeCache
	parts    map[state.TopicPartition]Partition
}

// NewUnreachableFinder returns a finder over the target client tgt and the
// migration state snap; sourceID is the source cluster's id. cache may be
// nil (a fresh one).
func NewUnreachableFinder(tgt *kgo.Client, sourceID string, snap *state.Snapshot, cache *NativeCache) *UnreachableFinder {
	if cache == nil {
		cache = NewNativeCache()
	}
	return &UnreachableFinder{tgt: tgt, sourceID: sourceID, snap: snap, cache: cache, parts: map[state.TopicPartition]Partition{}}
}

func (f *UnreachableFinder) partition(tp state.TopicPartition) (Partition, error) {
	if p, ok := f.parts[tp]; ok {
		return p, nil
	}
	p, err := FromSnapshot(f.snap, tp)
	if err != nil {
		return Partition{}, err
	}
	f.parts[tp] = p
	return p, nil
}

// Fill sets the Unreachable count and natives of each translated partition
// of g and, when there are any, adds a reason: Migrate refuses such a
// position unless the user chooses.
func (f *UnreachableFinder) Fill(ctx context.Context, g *GroupInfo) error {
	if f.snap == nil || f.snap.Meta == nil {
		return nil
	}
	for i := range g.Topics {
		t := &g.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if !t.Mirrored || p.Translation == nil || p.Translation.Kind == NotYetMirrored {
				continue
			}
			tp := state.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			part, err := f.partition(tp)
			if err != nil {
				return err
			}
			r, err := Translate(part, p.Committed)
			if err != nil {
				return fmt.Errorf("translate %s: %w", tp, err)
			}
			if p.Translation.UnreachableNatives, p.Translation.Unreachable, err = f.Below(ctx, tp, t.Target, ReachBound(part, r)); err != nil {
				return fmt.Errorf("group %q: %w", g.Group, err)
			}
			if n := p.Translation.Unreachable; n > 0 {
				g.Reasons = append(g.Reasons, fmt.Sprintf("%d records written natively on the target in %s/%d (%s) lie before copies the group already consumed: its translated position would never deliver them; choose with kmigrate groups migrate --unreachable-natives=reread or skip",
					n, t.Target, p.Partition, RangesText(p.Translation.UnreachableNatives, 5)))
				g.Migratable = false
			}
		}
	}
	return nil
}

// Below returns the records written natively on target partition
// targetTopic/tp.Partition, among the copies of source partition tp, below
// offset to (a ReachBound, or a group's committed target offset), and how
// many there are. The partition's gaps are read up to the end of its
// copies, once per cache.
func (f *UnreachableFinder) Below(ctx context.Context, tp state.TopicPartition, targetTopic string, to int64) ([]NativeRange, int64, error) {
	if to <= 0 || f.snap == nil {
		return nil, 0, nil
	}
	part, err := f.partition(tp)
	if err != nil {
		return nil, 0, err
	}
	end := int64(0)
	if part.Map != nil {
		end = part.Map.TargetEnd()
	}
	src := SourcePartition{ClusterID: f.sourceID, Topic: tp.Topic, Partition: tp.Partition}
	all, err := f.cache.natives(ctx, f.tgt, targetTopic, tp.Partition, part, max(end, to), src)
	if err != nil {
		return nil, 0, err
	}
	rs, n := below(all, to)
	return rs, n, nil
}
