package groups

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/state"
)

// StateDead is the state List reports for a group a cluster does not know
// (Kafka's own name for it).
const StateDead = "Dead"

// activeStates are the classic group states in which consumers are (or are
// about to be) consuming; a KIP-848 group in them has members too.
var activeStates = []string{"Stable", "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling"}

// GroupInfo is what List reports about one consumer group.
type GroupInfo struct {
	Group string `json:"group"`
	// Source and Target are the group's state on each cluster.
	Source Side `json:"source"`
	Target Side `json:"target"`
	// Topics are the topics the group has committed offsets for on the
	// source, by name.
	Topics []TopicInfo `json:"topics"`
	// Lag is the sum of the known per-partition lags on the source.
	Lag int64 `json:"lag"`
	// Migratable says whether the group's offsets can be moved to the
	// target now; Reasons say why not, each with what to do.
	Migratable bool     `json:"migratable"`
	Reasons    []string `json:"reasons,omitempty"`
}

// Side is a group's state on one cluster.
type Side struct {
	// State is the group state as the cluster reports it (Empty, Stable,
	// PreparingRebalance, ...), StateDead when the cluster does not know
	// the group, "" when it could not be described (see Err).
	State   string `json:"state"`
	Members int    `json:"members"`
	// Err is why the group could not be described, "" when it was.
	Err string `json:"error,omitempty"`
}

// TopicInfo is one topic a group committed offsets for on the source.
type TopicInfo struct {
	// Topic is the source topic.
	Topic string `json:"topic"`
	// Mirrored says the migration mirrors the topic, to Target.
	Mirrored bool   `json:"mirrored"`
	Target   string `json:"target,omitempty"`
	// Lag is the sum of the known partition lags.
	Lag        int64           `json:"lag"`
	Partitions []PartitionInfo `json:"partitions"`
}

// PartitionInfo is a group's position in one source partition.
type PartitionInfo struct {
	Partition int32 `json:"partition"`
	// Committed is the committed offset: the next record the group reads.
	Committed int64 `json:"committed"`
	// End is the partition's end offset (high watermark); Lag is End -
	// Committed, at least 0. Both are -1 when the end is unknown (the
	// partition is gone or its leader did not answer).
	End int64 `json:"end"`
	Lag int64 `json:"lag"`
	// Translation is how Committed translates to the target, for a
	// mirrored partition when the migration has state; nil otherwise.
	Translation *Translation `json:"translation,omitempty"`
}

// Translation is a Result for printing: Kind by name.
type Translation struct {
	// Kind is a Kind's String: exact, next-copied, end, expired,
	// not-yet-mirrored.
	Kind Kind `json:"kind"`
	// Offset is the offset to commit on the target; -1 for
	// not-yet-mirrored.
	Offset  int64 `json:"offset"`
	Skipped int64 `json:"skipped,omitempty"`
	// Unreachable counts the records written natively on the target
	// before copies the group already consumed, which Offset never
	// delivers; UnreachableNatives names their offsets. Filled by an
	// UnreachableFinder (plan, status), not by List.
	Unreachable        int64         `json:"unreachable_natives,omitempty"`
	UnreachableNatives []NativeRange `json:"unreachable_native_offsets,omitempty"`
}

// List reports the consumer groups of the source that sel selects: their
// state and members on the source and, under the same name, on the target;
// the topics and partitions they committed offsets for on the source, with
// lag; which of those topics the migration mirrors; and whether each group
// can be migrated now, and why not.
//
// snap is the migration's state (nil, or with a nil Meta, when the
// migration has not run yet). Committed offsets are translated from snap
// alone (Translate), with no fetch from the target. List only reads: it
// lists and describes groups, fetches their offsets and lists end offsets.
//
// A group is not migratable when it has members on the source (its
// consumers would keep committing there) or on the target (something
// already consumes under its name), when there is no migration state yet,
// when it has no committed offset on a mirrored topic, or when the mirror
// has not yet copied up to one of its committed offsets. Groups come sorted
// by name.
func List(ctx context.Context, src, tgt *kadm.Client, snap *state.Snapshot, sel config.Selection) ([]GroupInfo, error) {
	names, srcSides, tgtSides, err := describeSelected(ctx, src, tgt, sel)
	if err != nil || len(names) == 0 {
		return nil, err
	}

	fetched := src.FetchManyOffsets(ctx, names...)
	committedTopics := map[string]bool{}
	for _, f := range fetched {
		f.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				committedTopics[o.Topic] = true
			}
		})
	}
	var ends kadm.ListedOffsets
	if len(committedTopics) > 0 {
		ts := make([]string, 0, len(committedTopics))
		for t := range committedTopics {
			ts = append(ts, t)
		}
		// Partial answers are fine: a partition without an end has an
		// unknown lag.
		if ends, err = src.ListEndOffsets(ctx, ts...); err != nil && ends == nil {
			return nil, fmt.Errorf("list source end offsets: %w", err)
		}
	}

	l := lister{snap: snap, parts: map[state.TopicPartition]Partition{}}
	out := make([]GroupInfo, 0, len(names))
	for _, name := range names {
		g := GroupInfo{Group: name, Source: srcSides[name], Target: tgtSides[name]}
		f := fetched[name]
		if f.Err != nil && !errors.Is(f.Err, kerr.GroupIDNotFound) {
			g.Reasons = append(g.Reasons, fmt.Sprintf("cannot fetch the group's committed offsets on the source: %v", f.Err))
		}
		if err := l.fill(&g, f.Fetched, ends); err != nil {
			return nil, fmt.Errorf("group %q: %w", name, err)
		}
		g.Migratable = len(g.Reasons) == 0
		out = append(out, g)
	}
	return out, nil
}

// Selected lists the consumer groups of a cluster that sel selects,
// sorted: the one place kmigrate decides which groups a command, the
// group sync, verify or the mirror's committed start position looks at.
func Selected(ctx context.Context, adm *kadm.Client, sel config.Selection) ([]string, error) {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	names := slices.DeleteFunc(listed.Groups(), func(g string) bool { return !sel.Match(g) })
	slices.Sort(names)
	return names, nil
}

// describeSelected lists the source groups sel selects, sorted, and
// describes each on both clusters.
func describeSelected(ctx context.Context, src, tgt *kadm.Client, sel config.Selection) (names []string, srcSides, tgtSides map[string]Side, err error) {
	if names, err = Selected(ctx, src, sel); err != nil {
		return nil, nil, nil, fmt.Errorf("source: %w", err)
	}
	if len(names) == 0 {
		return nil, nil, nil, nil
	}
	if srcSides, err = describe(ctx, src, names); err != nil {
		return nil, nil, nil, fmt.Errorf("describe source groups: %w", err)
	}
	if tgtSides, err = describe(ctx, tgt, names); err != nil {
		return nil, nil, nil, fmt.Errorf("describe target groups: %w", err)
	}
	return names, srcSides, tgtSides, nil
}

// describe returns the state of each group on one cluster. Groups the
// cluster does not know are StateDead; KIP-848 groups, which the classic
// DescribeGroups does not know, are described with ConsumerGroupDescribe.
func describe(ctx context.Context, adm *kadm.Client, names []string) (map[string]Side, error) {
	described, err := adm.DescribeGroups(ctx, names...)
	if err != nil && described == nil {
		return nil, err
	}
	out := make(map[string]Side, len(names))
	var unknown []string
	for _, name := range names {
		d, ok := described[name]
		switch {
		case !ok:
			out[name] = Side{Err: fmt.Sprintf("not described: %v", err)}
		case errors.Is(d.Err, kerr.GroupIDNotFound) || (d.Err == nil && d.State == StateDead):
			out[name] = Side{State: StateDead}
			unknown = append(unknown, name)
		case d.Err != nil:
			out[name] = Side{Err: d.Err.Error()}
		default:
			out[name] = Side{State: d.State, Members: len(d.Members)}
		}
	}
	if len(unknown) == 0 {
		return out, nil
	}
	// A cluster without KIP-848 groups answers with an error: the classic
	// answer stands.
	cgs, _ := adm.DescribeConsumerGroups(ctx, unknown...)
	for _, name := range unknown {
		if d, ok := cgs[name]; ok && d.Err == nil && d.State != "" && d.State != StateDead {
			out[name] = Side{State: d.State, Members: len(d.Members)}
		}
	}
	return out, nil
}

// lister fills in GroupInfos from one migration state, decoding each
// partition's offset map once.
type lister struct {
	snap  *state.Snapshot
	parts map[state.TopicPartition]Partition
}

func (l *lister) migration() string {
	if l.snap == nil || l.snap.Meta == nil {
		return ""
	}
	return l.snap.Meta.Migration
}

// fill sets g's topics, lag and reasons from its committed offsets and the
// source end offsets.
func (l *lister) fill(g *GroupInfo, committed kadm.OffsetResponses, ends kadm.ListedOffsets) error {
	if s := g.Source; s.Err != "" {
		g.Reasons = append(g.Reasons, fmt.Sprintf("cannot describe the group on the source: %s", s.Err))
	} else if s.Members > 0 {
		g.Reasons = append(g.Reasons, fmt.Sprintf("the group has %s on the source: stop the application first", members(s.Members)))
	} else if slices.Contains(activeStates, s.State) {
		g.Reasons = append(g.Reasons, fmt.Sprintf("the group is %s on the source: stop the application first", s.State))
	}
	if s := g.Target; s.Err != "" {
		g.Reasons = append(g.Reasons, fmt.Sprintf("cannot describe the group on the target: %s", s.Err))
	} else if s.Members > 0 {
		g.Reasons = append(g.Reasons, fmt.Sprintf("the group is active on the target with %s: stop the consumers using its name there first", members(s.Members)))
	} else if slices.Contains(activeStates, s.State) {
		g.Reasons = append(g.Reasons, fmt.Sprintf("the group is active on the target (%s): stop the consumers using its name there first", s.State))
	}

	byTopic := map[string]*TopicInfo{}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At < 0 {
			return
		}
		t := byTopic[o.Topic]
		if t == nil {
			t = &TopicInfo{Topic: o.Topic}
			if l.migration() != "" {
				t.Target, t.Mirrored = l.snap.Meta.Topics[o.Topic]
			}
			byTopic[o.Topic] = t
		}
		p := PartitionInfo{Partition: o.Partition, Committed: o.At, End: -1, Lag: -1}
		if e, ok := ends.Lookup(o.Topic, o.Partition); ok && e.Err == nil && e.Offset >= 0 {
			p.End, p.Lag = e.Offset, max(0, e.Offset-o.At)
			t.Lag += p.Lag
		}
		t.Partitions = append(t.Partitions, p)
	})
	mirrored := 0
	for _, t := range byTopic {
		slices.SortFunc(t.Partitions, func(a, b PartitionInfo) int { return cmp.Compare(a.Partition, b.Partition) })
		g.Topics = append(g.Topics, *t)
		g.Lag += t.Lag
		if t.Mirrored {
			mirrored++
		}
	}
	slices.SortFunc(g.Topics, func(a, b TopicInfo) int { return cmp.Compare(a.Topic, b.Topic) })

	switch {
	case l.migration() == "":
		g.Reasons = append(g.Reasons, "there is no migration state yet: run kmigrate mirror first")
		return nil
	case len(g.Topics) == 0:
		g.Reasons = append(g.Reasons, "the group has no committed offsets on the source: there is nothing to migrate")
		return nil
	case mirrored == 0:
		g.Reasons = append(g.Reasons, fmt.Sprintf("no committed topic is mirrored by migration %s", l.migration()))
		return nil
	}
	for i := range g.Topics {
		t := &g.Topics[i]
		if !t.Mirrored {
			continue
		}
		for j := range t.Partitions {
			p := &t.Partitions[j]
			tp := state.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			part, err := l.partition(tp)
			if err != nil {
				return err
			}
			r, err := Translate(part, p.Committed)
			if err != nil {
				return fmt.Errorf("translate %s: %w", tp, err)
			}
			p.Translation = &Translation{Kind: r.Kind, Offset: r.Offset, Skipped: r.Skipped}
			if r.Kind == NotYetMirrored {
				g.Reasons = append(g.Reasons, fmt.Sprintf("waiting for the mirror to copy up to offset %d on %s/%d (it has handled offsets below %d)",
					p.Committed, t.Topic, p.Partition, part.Checkpoint.Next))
			}
		}
	}
	return nil
}

func (l *lister) partition(tp state.TopicPartition) (Partition, error) {
	if p, ok := l.parts[tp]; ok {
		return p, nil
	}
	p, err := FromSnapshot(l.snap, tp)
	if err != nil {
		return Partition{}, err
	}
	l.parts[tp] = p
	return p, nil
}

func members(n int) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}
