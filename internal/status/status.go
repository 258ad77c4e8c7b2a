package status

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

// SchemaVersion is the version of Report's JSON form (docs/status.md).
const SchemaVersion = 1

// Where producers write to a topic, as Topic.Producers reports it.
const (
	ProducersSource = "source" // the source had writes within the quiet period
	ProducersTarget = "target" // the source is quiet and the target has native writes: switched
	ProducersNone   = "none"   // quiet on both sides
	// ProducersUnknown: the source was not read (Report.SourceUnknown).
	ProducersUnknown = "unknown"
)

// Report is the state of a migration: what `kmigrate status` prints and
// GET /v1/status serves.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Migration     string    `json:"migration"`
	Time          time.Time `json:"time"`
	// Phase is the furthest phase reached (state.Phase*), from what the
	// clusters show and the recorded cutover facts.
	Phase string `json:"phase"`
	// Next is the next step; Blockers what stands in its way.
	Next     string   `json:"next"`
	Blockers []string `json:"blockers"`
	Mirror   Mirror   `json:"mirror"`
	Topics   []Topic  `json:"topics"`
	Groups   []Group  `json:"groups"`
	// History is the recorded cutover history, oldest first.
	History  []state.Event `json:"history"`
	Warnings []string      `json:"warnings"`
	// SourceUnknown is why the source was not read ("" when it was):
	// the report then comes from the target and its state alone, and
	// every figure only the source knows is -1 (lags, source end offsets,
	// the source write rate) or "unknown" (producers).
	SourceUnknown string `json:"source_unknown,omitempty"`
	// Access compares the migration's ACL bindings, client quotas and
	// SCRAM users on both sides (absent unless Options.Access).
	Access *acls.Access `json:"access,omitempty"`
}

// Mirror says whether a mirror process is running.
type Mirror struct {
	// Running is true when the last heartbeat or checkpoint is recent
	// (within StaleAfter).
	Running bool `json:"running"`
	// LastSeen is the newest heartbeat or checkpoint time.
	LastSeen time.Time `json:"last_seen,omitzero"`
	Host     string    `json:"host,omitempty"`
	// Units is the migration's number of work units, 0 when it is not
	// divided (one unit); UnitList and Members then show who copies
	// what (units.go).
	Units    int      `json:"units,omitempty"`
	UnitList []Unit   `json:"unit_list,omitempty"`
	Members  []Member `json:"members,omitempty"`
}

// Topic is one mirrored topic.
type Topic struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// State is "promoted", "caught-up" (lag 0) or "mirroring".
	State    string     `json:"state"`
	Promoted *time.Time `json:"promoted,omitempty"`
	// Lag sums the partitions' records not yet copied; LagSeconds is the
	// largest age of a partition's oldest uncopied record.
	Lag        int64   `json:"lag"`
	LagSeconds float64 `json:"lag_seconds"`
	// SourceLastWrite is the newest record timestamp on the source
	// (KIP-734 max timestamp), TargetLastNativeWrite the newest record
	// written natively on the target, among its last records.
	SourceLastWrite       time.Time `json:"source_last_write,omitzero"`
	TargetLastNativeWrite time.Time `json:"target_last_native_write,omitzero"`
	// SourceWriteRate and TargetNativeRate are records per second over
	// the sample interval.
	SourceWriteRate  float64     `json:"source_write_rate"`
	TargetNativeRate float64     `json:"target_native_rate"`
	Producers        string      `json:"producers"`
	Partitions       []Partition `json:"partitions"`
}

// Partition is one mirrored partition.
type Partition struct {
	Partition int32 `json:"partition"`
	// SourceEnd is the source's last stable offset; Next the next
	// source offset to copy (the checkpoint); Lag the difference.
	SourceEnd  int64   `json:"source_end"`
	Next       int64   `json:"next"`
	Lag        int64   `json:"lag"`
	LagSeconds float64 `json:"lag_seconds"`
	TargetEnd  int64   `json:"target_end"`
}

// Group is one selected consumer group.
type Group struct {
	groups.GroupInfo
	// Switched says the group moved to the target: recorded (migrated,
	// or seen by group sync) or seen now (active on the target, inactive
	// on the source).
	Switched    bool   `json:"switched"`
	SwitchedHow string `json:"switched_how,omitempty"`
}

// Options tune Make.
type Options struct {
	// Quiet is how long a source topic must have had no writes for its
	// producers to count as moved.
	Quiet time.Duration
	// Sample is the interval over which write rates are measured (two
	// reads of the end offsets); 0 skips rates.
	Sample time.Duration
	// StaleAfter is how old a heartbeat or checkpoint may be for the
	// mirror to count as running.
	StaleAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Access adds the comparison of ACL bindings, quotas and users
	// (Report.Access): a few more reads of both clusters, so off for the
	// reports a dashboard or promote make.
	Access bool
	// Natives, when set, keeps what reports have read of the target
	// partitions' native records between copies, so that the next report
	// reads only what the mirror added since (a long-running process
	// should set it); nil reads them afresh.
	Natives *groups.NativeCache
}

// defaults fills the zero fields with their defaults.
func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 30 * time.Second
	}
}

// DefaultQuiet is the default quiet period for producer switchover.
const DefaultQuiet = 30 * time.Second

// Clusters are what a report reads.
type Clusters struct {
	// Source is nil when the source is not read: every figure only the
	// source knows is then unknown, and SourceUnknown says why.
	Source        *kgo.Client
	SourceUnknown string
	Target        *kgo.Client
	// SourceID is the source cluster's id (the migration's state has it).
	SourceID string
	Groups   config.Selection
	State    func(ctx context.Context) (*state.Snapshot, error)
}

// ClustersOf is what reports on an open migration read: both clusters.
func ClustersOf(h *migration.Handle) Clusters {
	return Clusters{Source: h.Source(), Target: h.Target(), SourceID: h.SourceID(),
		Groups: h.Config().Groups.Selection, State: h.LoadState}
}

// inputs are what a report reads, with the native-records cache.
type inputs struct {
	Clusters
	Natives *groups.NativeCache
}

// Make builds the status report of an open migration. It only reads.
func Make(ctx context.Context, h *migration.Handle, o Options) (*Report, error) {
	r, err := MakeFrom(ctx, ClustersOf(h), o)
	if err != nil || !o.Access {
		return r, err
	}
	if r.Access, err = acls.Compare(ctx, h); err != nil {
		return nil, err
	}
	return r, nil
}

// MakeFrom builds the status report from c. Without a source, the
// source's figures are unknown: lags, source end offsets and write rates
// are -1, producers "unknown", and groups are those the target knows under
// a selected name or the state records as switched, with their target side
// only (docs/dashboard.md).
func MakeFrom(ctx context.Context, c Clusters, o Options) (*Report, error) {
	in := inputs{Clusters: c, Natives: o.Natives}
	if in.Source == nil && in.SourceUnknown == "" {
		in.SourceUnknown = "no source client"
	}
	o.defaults()
	snap, err := in.State(ctx)
	if errors.Is(err, migration.ErrNoState) || (err == nil && snap.Meta == nil) {
		return nil, fmt.Errorf("%w: run kmigrate mirror first", migration.ErrNoState)
	}
	if err != nil {
		return nil, fmt.Errorf("read migration state: %w", err)
	}
	var src *kadm.Client
	if in.Source != nil {
		src = kadm.NewClient(in.Source)
	}
	tgt := kadm.NewClient(in.Target)
	r := &Report{SchemaVersion: SchemaVersion, Migration: snap.Meta.Migration, Time: o.Now().UTC(),
		Topics: []Topic{}, Groups: []Group{}, Blockers: []string{}, Warnings: []string{}, History: snap.Events}
	if src == nil {
		r.SourceUnknown = in.SourceUnknown
	}
	if r.History == nil {
		r.History = []state.Event{}
	}
	r.Mirror = mirrorState(snap, o)

	sources := sortedKeys(snap.Meta.Topics)
	targets := make([]string, 0, len(sources))
	for _, s := range sources {
		targets = append(targets, snap.Meta.Topics[s])
	}
	first, err := sample(ctx, src, tgt, sources, targets)
	if err != nil {
		return nil, err
	}
	last := first
	var after *state.Snapshot
	if o.Sample > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(o.Sample):
		}
		if last, err = sample(ctx, src, tgt, sources, targets); err != nil {
			return nil, err
		}
		if after, err = in.State(ctx); err != nil {
			return nil, fmt.Errorf("read migration state: %w", err)
		}
	}
	if after == nil {
		after = snap
	}
	for i, s := range sources {
		t, err := topicStatus(ctx, in, s, targets[i], after, first, last, o)
		if err != nil {
			return nil, err
		}
		r.Topics = append(r.Topics, t)
	}
	unitsStatus(&r.Mirror, snap, after, r.Topics, last.at.Sub(first.at), o)

	if src == nil {
		if r.Groups, err = targetGroups(ctx, tgt, after, in.Groups); err != nil {
			return nil, err
		}
		r.Phase = phase(r)
		r.Next, r.Blockers = next(r, o)
		return r, nil
	}
	infos, err := groups.List(ctx, src, tgt, after, in.Groups)
	if err != nil {
		return nil, err
	}
	finder := groups.NewUnreachableFinder(in.Target, in.SourceID, after, in.Natives)
	for _, g := range infos {
		gs := Group{GroupInfo: g}
		if sw, ok := after.Switched[g.Group]; ok && sw.How != "rolled-back" {
			gs.Switched, gs.SwitchedHow = true, sw.How
		} else if g.Target.Members > 0 && g.Source.Members == 0 && g.Source.Err == "" {
			gs.Switched, gs.SwitchedHow = true, "active on the target"
		} else if err := finder.Fill(ctx, &gs.GroupInfo); err != nil {
			// Only a group still to move can lose natives. A failed read
			// is reported, not fatal: promote relies on this report.
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.Warnings = append(r.Warnings, fmt.Sprintf("group %q: cannot look for records written natively on the target before copies it consumed: %v", g.Group, err))
		}
		if g.Source.Members > 0 && g.Target.Members > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("group %q is active on both clusters (%d consumers on the source, %d on the target): it will process records twice; stop one side", g.Group, g.Source.Members, g.Target.Members))
		}
		r.Groups = append(r.Groups, gs)
	}
	r.Warnings = append(r.Warnings, producersWarnings(r)...)
	r.Phase = phase(r)
	r.Next, r.Blockers = next(r, o)
	return r, nil
}

// offsets is one read of end offsets and max timestamps on both sides.
type offsets struct {
	at                   time.Time
	srcEnds, tgtEnds     kadm.ListedOffsets
	srcMaxTS             kadm.ListedOffsets
	srcStarts, tgtStarts kadm.ListedOffsets
}

// sample reads both sides, or the target only when src is nil.
func sample(ctx context.Context, src, tgt *kadm.Client, sources, targets []string) (offsets, error) {
	o := offsets{at: time.Now()}
	var err error
	list := func(what string, fn func() (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
		lo, err := fn()
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return lo, nil
	}
	if o.tgtEnds, err = list("target end offsets", func() (kadm.ListedOffsets, error) { return tgt.ListEndOffsets(ctx, targets...) }); err != nil {
		return o, err
	}
	if o.tgtStarts, err = list("target start offsets", func() (kadm.ListedOffsets, error) { return tgt.ListStartOffsets(ctx, targets...) }); err != nil {
		return o, err
	}
	if src == nil {
		return o, nil
	}
	if o.srcEnds, err = list("source end offsets", func() (kadm.ListedOffsets, error) { return src.ListCommittedOffsets(ctx, sources...) }); err != nil {
		return o, err
	}
	if o.srcStarts, err = list("source start offsets", func() (kadm.ListedOffsets, error) { return src.ListStartOffsets(ctx, sources...) }); err != nil {
		return o, err
	}
	// Max timestamps need Kafka 3.0 (KIP-734); without them the last
	// write time is unknown and only rates tell.
	o.srcMaxTS, _ = src.ListMaxTimestampOffsets(ctx, sources...)
	return o, nil
}

func mirrorState(snap *state.Snapshot, o Options) Mirror {
	var m Mirror
	if h := snap.Heartbeat; h != nil {
		m.LastSeen, m.Host = h.Time, h.Host
	}
	for _, c := range snap.Checkpoints {
		if c.Updated.After(m.LastSeen) {
			m.LastSeen = c.Updated
		}
	}
	m.Running = !m.LastSeen.IsZero() && o.Now().Sub(m.LastSeen) <= o.StaleAfter
	return m
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
