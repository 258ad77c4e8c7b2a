package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/preflight"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/topics"
)

// SchemaVersion is the version of the JSON schema of Report (docs/plan.md).
// Fields may be added within a version; none is removed or changes
// meaning.
const SchemaVersion = 1

// Report is a migration plan: what `kmigrate mirror` and `kmigrate groups
// migrate` would do now, and what blocks them.
type Report struct {
	SchemaVersion int    `json:"schema_version"`
	Migration     string `json:"migration"`
	// State is "none" (the migration never ran) or "found" (its state
	// topic exists: topics resume from their checkpoints).
	State    string   `json:"state"`
	Source   Cluster  `json:"source"`
	Target   Cluster  `json:"target"`
	Settings Settings `json:"settings"`
	Topics   []Topic  `json:"topics"`
	// Excluded are the source topics the selection left out, with why.
	Excluded []topics.Excluded  `json:"excluded"`
	Totals   Totals             `json:"totals"`
	Groups   []groups.GroupInfo `json:"groups"`
	// Access is what kmigrate access apply would do: the ACL bindings,
	// client quotas and SCRAM users of the migration on both sides.
	Access *acls.Access `json:"access"`
	// Problems block the migration; Warnings do not.
	Problems []string `json:"problems"`
	Warnings []string `json:"warnings"`
	// CanRun is true when there is no problem.
	CanRun bool `json:"can_run"`
}

// Cluster identifies one cluster.
type Cluster struct {
	ClusterID    string `json:"cluster_id"`
	Brokers      int    `json:"brokers"`
	Transactions bool   `json:"transactions"`
}

// Settings are the mirror settings the plan applies.
type Settings struct {
	Start          string `json:"start"`
	StartFallback  string `json:"start_fallback"`
	Until          string `json:"until"`
	Guarantee      string `json:"guarantee"`
	TracingHeaders bool   `json:"tracing_headers"`
}

// Topic is the plan of one selected source topic.
type Topic struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// SelectedBy is the rule that selected the topic: `include "PATTERN"`
	// or "all topics" (no include list).
	SelectedBy string `json:"selected_by"`
	// Action is create, resume, reuse or conflict; Reason says why for a
	// conflict.
	Action     topics.Action `json:"action"`
	Reason     string        `json:"reason,omitempty"`
	Partitions int32         `json:"partitions"`
	// PartitionsToAdd are partitions a resumed target topic gains.
	PartitionsToAdd int32 `json:"partitions_to_add,omitempty"`
	// Promoted says the topic was promoted (kmigrate promote): nothing
	// more is copied, so it has no ranges.
	Promoted bool `json:"promoted,omitempty"`
	// Configs are the configs the target topic gets; Dropped the source
	// configs it does not, with the reason.
	Configs  map[string]string `json:"configs"`
	Dropped  []topics.Dropped  `json:"dropped"`
	Warnings []string          `json:"warnings"`
	// Ranges are the source ranges to copy, per partition (none for a
	// conflict).
	Ranges []Range `json:"ranges"`
	// Records, Bytes and ExpiredRecords sum the ranges.
	Records        int64 `json:"records"`
	Bytes          int64 `json:"bytes"`
	ExpiredRecords int64 `json:"expired_records"`
}

// Range is what will be copied from one source partition.
type Range struct {
	Partition int32 `json:"partition"`
	// LogStart and End are the source partition's log start offset and
	// last stable offset now.
	LogStart int64 `json:"log_start"`
	End      int64 `json:"end"`
	// From is where copying starts: the checkpoint of a resumed partition
	// or the start rule applied (StartRule says which), moved up to
	// LogStart.
	From      int64  `json:"from"`
	StartRule string `json:"start_rule"`
	// Records is End - From: the offsets to copy. Compaction gaps,
	// transaction markers and aborted records make the records copied
	// fewer. Bytes estimates their size from the partition's size on
	// disk, -1 when the cluster does not report sizes.
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	// Expired is the range below the log start that the start position
	// asked for and the source no longer holds: reported, never copied.
	Expired *Expired `json:"expired,omitempty"`
}

// Expired is a source range that is gone.
type Expired struct {
	From    int64 `json:"from"`
	Until   int64 `json:"until"`
	Records int64 `json:"records"`
}

// Totals sum the topics that can be mirrored.
type Totals struct {
	Topics         int   `json:"topics"`
	Partitions     int   `json:"partitions"`
	Records        int64 `json:"records"`
	Bytes          int64 `json:"bytes"`
	ExpiredRecords int64 `json:"expired_records"`
}

// Progress is how far Make is: Done of Total steps, Step the one under
// way. The steps are checking the clusters, planning the topics, listing
// the groups, comparing ACLs, quotas and users, then one per group looked for records written natively on
// the target (the part that grows with a large cluster); Total grows by
// the number of groups once they are listed.
type Progress struct {
	Step        string
	Done, Total int64
}

// Options tune MakeWith.
type Options struct {
	// Progress, when set, is called as each step starts and at the end
	// (Done == Total), from the goroutine that runs Make.
	Progress func(Progress)
}

// fixedSteps are the steps before the groups.
const fixedSteps = 4

// Make plans the open migration, reading both clusters and writing
// nothing. An error means the plan could not be made (a cluster
// unreachable, a failed request); whatever blocks the migration itself is
// in Report.Problems.
func Make(ctx context.Context, h *migration.Handle) (*Report, error) {
	return MakeWith(ctx, h, Options{})
}

// MakeWith is Make with options.
func MakeWith(ctx context.Context, h *migration.Handle, o Options) (*Report, error) {
	progress := func(step string, done, total int64) {
		if o.Progress != nil {
			o.Progress(Progress{Step: step, Done: done, Total: total})
		}
	}
	cfg := h.Config()
	progress("checking the clusters", 0, fixedSteps)
	check, err := preflight.Run(ctx, cfg, h.Logger())
	if err != nil {
		return nil, err
	}
	progress("planning the topics", 1, fixedSteps)
	tp, err := h.PlanTopics(ctx)
	if err != nil {
		return nil, err
	}
	s := &planned{h: h, plan: tp, snap: h.Opened()}
	r := &Report{
		SchemaVersion: SchemaVersion, Migration: h.Name(), State: "none",
		Source:   cluster(check.Source),
		Target:   cluster(check.Target),
		Settings: settings(cfg.Mirror),
		Excluded: tp.Excluded,
		Topics:   []Topic{}, Problems: []string{}, Warnings: []string{},
	}
	if r.Excluded == nil {
		r.Excluded = []topics.Excluded{}
	}
	if h.Meta() != nil {
		r.State = "found"
	}
	r.Problems = append(r.Problems, check.Problems...)
	r.Problems = append(r.Problems, h.Problems(tp)...)
	r.Warnings = append(r.Warnings, check.Warnings...)
	if err := r.planTopics(ctx, s); err != nil {
		return nil, err
	}
	progress("listing the groups", 2, fixedSteps)
	if r.Groups, err = groups.List(ctx, h.SourceAdmin(), h.TargetAdmin(), s.snap, cfg.Groups.Selection); err != nil {
		return nil, err
	}
	if r.Groups == nil {
		r.Groups = []groups.GroupInfo{}
	}
	progress("comparing ACLs, quotas and users", 3, fixedSteps)
	if r.Access, err = acls.Compare(ctx, h); err != nil {
		return nil, err
	}
	switch {
	case r.Access.Error != "":
		r.Warnings = append(r.Warnings, "ACLs, quotas and users not compared: "+r.Access.Error)
	case !r.Access.InSync:
		r.Warnings = append(r.Warnings, "the target lacks ACL bindings, quotas or users of the source (or has extra ones): kmigrate access apply does what the access section lists")
	}
	// Records written natively on the target before copies a group
	// consumed: groups migrate refuses the group until the user chooses.
	finder := groups.NewUnreachableFinder(h.Target(), h.SourceID(), s.snap, nil)
	total := int64(fixedSteps + len(r.Groups))
	for i := range r.Groups {
		progress("checking the groups", int64(fixedSteps+i), total)
		if err := finder.Fill(ctx, &r.Groups[i]); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.Warnings = append(r.Warnings, fmt.Sprintf("group %q: cannot look for records written natively on the target before copies it consumed: %v", r.Groups[i].Group, err))
		}
	}
	for _, g := range r.Groups {
		if g.Target.Members > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("group %q is active on the target (%s, %d consumer(s)): its offsets cannot be migrated while consumers use its name there; stop them", g.Group, g.Target.State, g.Target.Members))
		}
	}
	r.Problems = dedupe(r.Problems)
	r.Warnings = dedupe(r.Warnings)
	r.CanRun = len(r.Problems) == 0
	progress("done", total, total)
	return r, nil
}

func cluster(s *preflight.Side) Cluster {
	return Cluster{ClusterID: s.ClusterID, Brokers: len(s.Brokers), Transactions: s.Features.Transactions}
}

func settings(m config.Mirror) Settings {
	return Settings{Start: m.Start.String(), StartFallback: string(m.StartFallback), Until: string(m.Until),
		Guarantee: string(m.Guarantee), TracingHeaders: m.TracingHeaders}
}

// planTopics fills Topics and Totals: the topic plan and, for each topic
// that can be mirrored, the source ranges.
// planned is the open migration with its topic plan and the state it was
// opened with (nil before its first run).
type planned struct {
	h    *migration.Handle
	plan *topics.Plan
	snap *state.Snapshot
}

func (r *Report) planTopics(ctx context.Context, s *planned) error {
	var names []string
	for _, m := range s.plan.Mappings() {
		names = append(names, m.Source)
	}
	rs, err := ranges(ctx, s, names)
	if err != nil {
		return err
	}
	for _, t := range s.plan.Topics {
		pt := Topic{
			Source: t.Source, Target: t.Target, SelectedBy: "all topics", Action: t.Action, Reason: t.Reason,
			Partitions: t.Partitions, PartitionsToAdd: t.PartitionsToAdd(), Configs: t.Configs,
			Dropped: t.Dropped, Warnings: t.Warnings, Ranges: []Range{},
		}
		if t.Pattern != "" {
			pt.SelectedBy = fmt.Sprintf("include %q", t.Pattern)
		}
		if pt.Configs == nil {
			pt.Configs = map[string]string{}
		}
		if pt.Dropped == nil {
			pt.Dropped = []topics.Dropped{}
		}
		if pt.Warnings == nil {
			pt.Warnings = []string{}
		}
		if s.snap != nil {
			_, pt.Promoted = s.snap.Promoted[t.Source]
		}
		if t.Action != topics.Conflict && !pt.Promoted {
			pt.Ranges = rs[t.Source]
			for _, rg := range pt.Ranges {
				pt.Records += rg.Records
				pt.Bytes = addBytes(pt.Bytes, rg.Bytes)
				if rg.Expired != nil {
					pt.ExpiredRecords += rg.Expired.Records
				}
			}
			r.Totals.Topics++
			r.Totals.Partitions += len(pt.Ranges)
			r.Totals.Records += pt.Records
			r.Totals.Bytes = addBytes(r.Totals.Bytes, pt.Bytes)
			r.Totals.ExpiredRecords += pt.ExpiredRecords
			if pt.ExpiredRecords > 0 {
				r.Warnings = append(r.Warnings, fmt.Sprintf("topic %q: %d records the start position asks for are no longer on the source (retention or DeleteRecords): they cannot be copied", t.Source, pt.ExpiredRecords))
			}
		}
		r.Topics = append(r.Topics, pt)
	}
	if r.Totals.Bytes < 0 {
		r.Warnings = append(r.Warnings, "the source does not report partition sizes (DescribeLogDirs): byte estimates are -1")
	}
	return nil
}

// addBytes sums estimates; -1 (unknown) wins.
func addBytes(a, b int64) int64 {
	if a < 0 || b < 0 {
		return -1
	}
	return a + b
}

// ranges computes, per source topic, the range each partition will copy.
func ranges(ctx context.Context, s *planned, names []string) (map[string][]Range, error) {
	out := map[string][]Range{}
	if len(names) == 0 {
		return out, nil
	}
	adm := s.h.SourceAdmin()
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("source start offsets: %w", err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, names...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("source end offsets: %w", err)
	}
	var checkpoints map[state.TopicPartition]state.Checkpoint
	if s.snap != nil {
		checkpoints = s.snap.Checkpoints
	}
	fresh := false
	starts.Each(func(o kadm.ListedOffset) {
		if _, ok := checkpoints[state.TopicPartition{Topic: o.Topic, Partition: o.Partition}]; !ok {
			fresh = true
		}
	})
	var rule map[state.TopicPartition]int64
	if fresh {
		if rule, err = mirror.StartOffsets(ctx, adm, names, s.h.Config().Mirror, s.h.Config().Groups.Selection, starts); err != nil {
			return nil, err
		}
	}
	sizes := partitionSizes(ctx, adm, starts)
	ruleName := s.h.Config().Mirror.Start.String()
	if s.h.Config().Mirror.Start.Kind == config.StartCommitted {
		ruleName = fmt.Sprintf("committed (else %s)", s.h.Config().Mirror.StartFallback)
	}
	starts.Each(func(o kadm.ListedOffset) {
		tp := state.TopicPartition{Topic: o.Topic, Partition: o.Partition}
		end, _ := ends.Lookup(o.Topic, o.Partition)
		rg := Range{Partition: o.Partition, LogStart: o.Offset, End: end.Offset, StartRule: ruleName}
		if cp, ok := checkpoints[tp]; ok {
			rg.From, rg.StartRule = cp.Next, "checkpoint"
		} else {
			rg.From = rule[tp]
		}
		if rg.From < rg.LogStart {
			rg.Expired = &Expired{From: rg.From, Until: rg.LogStart, Records: rg.LogStart - rg.From}
			rg.From = rg.LogStart
		}
		rg.Records = max(0, rg.End-rg.From)
		rg.Bytes = -1
		if size, ok := sizes[tp]; ok {
			rg.Bytes = 0
			if held := rg.End - rg.LogStart; held > 0 {
				rg.Bytes = size * rg.Records / held
			}
		}
		out[o.Topic] = append(out[o.Topic], rg)
	})
	for _, rs := range out {
		slices.SortFunc(rs, func(a, b Range) int { return int(a.Partition - b.Partition) })
	}
	return out, nil
}

// partitionSizes returns each partition's size on disk (its largest
// replica), or nothing when the cluster does not report sizes.
func partitionSizes(ctx context.Context, adm *kadm.Client, parts kadm.ListedOffsets) map[state.TopicPartition]int64 {
	set := kadm.TopicsSet{}
	parts.Each(func(o kadm.ListedOffset) { set.Add(o.Topic, o.Partition) })
	dirs, err := adm.DescribeAllLogDirs(ctx, set)
	out := map[state.TopicPartition]int64{}
	if err != nil && !errors.As(err, new(*kadm.ShardErrors)) {
		return out
	}
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			return
		}
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			tp := state.TopicPartition{Topic: p.Topic, Partition: p.Partition}
			out[tp] = max(out[tp], p.Size)
		})
	})
	return out
}

func dedupe(s []string) []string {
	out := []string{}
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
