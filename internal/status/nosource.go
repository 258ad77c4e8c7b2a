package status

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/state"
)

// A report without the source (Clusters.Source nil) shows what the target
// and the state know, and marks the rest unknown rather than guessing: the
// mirror records in the state how far it copied (checkpoints) but not how
// far the source goes, so lag and source writes cannot be told from here.

// Unknown is the value of a count or rate the report cannot know without
// the source.
const Unknown = -1

// sourceNotRead is the reason a group's source side carries.
const sourceNotRead = "unknown without the source"

// topicFromTarget builds topic t from the target's offsets and the state:
// the mirror's position per partition and the native writes on the target.
func topicFromTarget(ctx context.Context, in inputs, t Topic, snap *state.Snapshot, first, last offsets) (Topic, error) {
	t.Lag, t.LagSeconds, t.SourceWriteRate = Unknown, Unknown, Unknown
	parts := map[int32]Partition{}
	for tp, cp := range snap.Checkpoints {
		if tp.Topic == t.Source {
			parts[tp.Partition] = Partition{Partition: tp.Partition, Next: cp.Next}
		}
	}
	last.tgtEnds.Each(func(e kadm.ListedOffset) {
		if e.Topic == t.Target {
			p := parts[e.Partition]
			p.Partition, p.TargetEnd = e.Partition, e.Offset
			parts[e.Partition] = p
		}
	})
	for _, p := range parts {
		p.SourceEnd, p.Lag, p.LagSeconds = Unknown, Unknown, Unknown
		t.Partitions = append(t.Partitions, p)
	}
	slices.SortFunc(t.Partitions, func(a, b Partition) int { return int(a.Partition - b.Partition) })
	if err := fillNatives(ctx, in, &t, first, last); err != nil {
		return t, err
	}
	// Caught up or not, and where producers write, need the source.
	t.State, t.Producers = "mirroring", ProducersUnknown
	if t.Promoted != nil {
		t.State = "promoted"
	}
	return t, nil
}

// targetGroups returns the groups a report without the source shows: the
// target's groups under a selected name and the groups the state records
// as switched, with their target side. Their source side, topics and lag
// are unknown.
func targetGroups(ctx context.Context, tgt *kadm.Client, snap *state.Snapshot, sel config.Selection) ([]Group, error) {
	names, err := groups.Selected(ctx, tgt, sel)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	for g := range snap.Switched {
		if !slices.Contains(names, g) {
			names = append(names, g)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return []Group{}, nil
	}
	sides, err := groups.Describe(ctx, tgt, names)
	if err != nil {
		return nil, fmt.Errorf("describe target groups: %w", err)
	}
	out := make([]Group, 0, len(names))
	for _, name := range names {
		g := Group{GroupInfo: groups.GroupInfo{Group: name, Source: groups.Side{Err: sourceNotRead}, Target: sides[name],
			Topics: []groups.TopicInfo{}, Lag: Unknown,
			Reasons: []string{"the source cannot be read from here: run kmigrate groups list where both clusters are reachable"}}}
		if sw, ok := snap.Switched[name]; ok && sw.How != "rolled-back" {
			g.Switched, g.SwitchedHow = true, sw.How
		} else if g.Target.Members > 0 {
			g.Switched, g.SwitchedHow = true, "active on the target"
		}
		out = append(out, g)
	}
	return out, nil
}
