package groups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"golang.org/x/sync/errgroup"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
)

// MigrateOptions are the choices of one `groups migrate`.
type MigrateOptions struct {
	// WaitInactive is how long to wait for the group to stop on the
	// source (its application shutting down); 0 checks once.
	WaitInactive time.Duration
	// MirrorWait is how long to wait for the mirror to copy up to the
	// group's committed offsets; 0 does not wait.
	MirrorWait time.Duration
	// DryRun translates and reports without committing.
	DryRun bool
	// AllowRewind commits translations below the group's current target
	// offsets (the group consumed on the target since; moving it back
	// makes it re-read). Without it, such a group is refused.
	AllowRewind bool
	// ToTimestamp, when not zero, replaces exact translation by the
	// familiar reset: every partition goes to the first target offset
	// whose timestamp is at or after it. Approximate.
	ToTimestamp time.Time
	// Natives is what to do when records written natively on the target
	// lie before copies the group already consumed, so that the exact
	// position never delivers them: refuse (the zero value), skip or
	// reread. See NativeChoice.
	Natives NativeChoice
	// Poll is how often waits re-check (DefaultPoll when 0).
	Poll time.Duration
	// Cache, when set, shares one read of the migration's state between
	// the groups of one run (groups migrate --all): a group translates
	// from the shared snapshot and reads the state again only when the
	// snapshot is behind its offsets. nil reads the state for each group.
	Cache *StateCache
}

// StateCache holds a migration's state read once for many groups. Reading
// the state decodes every checkpoint and offset map segment, so reading it
// per group made groups migrate --all cost groups x partitions (3.4 s per
// group at 10,000 partitions: bench/reports/scalebench.md). The zero value
// is empty and ready; it is safe for concurrent use.
type StateCache struct {
	mu   sync.Mutex
	snap *state.Snapshot
}

// get returns the cached snapshot, reading it with load when there is
// none; cached says it came from an earlier read.
func (s *StateCache) get(ctx context.Context, load func(context.Context) (*state.Snapshot, error)) (snap *state.Snapshot, cached bool, err error) {
	if s == nil {
		snap, err = load(ctx)
		return snap, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap != nil {
		return s.snap, true, nil
	}
	if s.snap, err = load(ctx); err != nil {
		return nil, false, err
	}
	return s.snap, false, nil
}

// put replaces the cached snapshot with a newer read.
func (s *StateCache) put(snap *state.Snapshot) {
	if s == nil || snap == nil {
		return
	}
	s.mu.Lock()
	s.snap = snap
	s.mu.Unlock()
}

// How a PartitionResult's offset was found.
const (
	MethodExact     = "exact"
	MethodTimestamp = "timestamp (approximate)"
)

// GroupResult is what Migrate did (or, dry, would do) for one group.
type GroupResult struct {
	Group string `json:"group"`
	// Method is MethodExact or MethodTimestamp.
	Method string `json:"method"`
	DryRun bool   `json:"dry_run"`
	// Committed counts the partitions whose target offset was (or would
	// be) changed; 0 on a re-run that found everything in place.
	Committed int `json:"committed"`
	// Partitions are the translated partitions, by topic and partition.
	Partitions []PartitionResult `json:"partitions"`
	// Unmirrored are committed offsets on topics the migration does not
	// mirror: reported, not moved.
	Unmirrored []Offset `json:"unmirrored,omitempty"`
	// Warnings are for the user: expired ranges the group will not see,
	// approximate translations.
	Warnings []string `json:"warnings,omitempty"`
	// Err is why the group was not migrated, nil when it was: test it with
	// errors.Is against this package's errors (ErrNoOffsets: nothing on a
	// mirrored topic, not a failure when moving every selected group;
	// ErrActive, ErrUnreachableNatives, ...).
	Err error `json:"-"`
	// Error is Err's text for reports, "" when it was migrated.
	Error string `json:"error,omitempty"`
	// NothingToMove reports errors.Is(Err, ErrNoOffsets) in JSON.
	NothingToMove bool `json:"nothing_to_move,omitempty"`
}

// fail records why the group was not moved.
func (r *GroupResult) fail(err error) {
	r.Err, r.Error, r.NothingToMove = err, err.Error(), errors.Is(err, ErrNoOffsets)
}

// Offset is a committed offset in one partition.
type Offset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// PartitionResult is one partition's translation.
type PartitionResult struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// From is the committed offset on the cluster the group moves from.
	From int64 `json:"from"`
	// ToTopic and To are the topic and offset on the cluster it moves to.
	ToTopic string `json:"to_topic"`
	To      int64  `json:"to"`
	// Kind is the translation's Kind, or Timestamp (by name in JSON).
	Kind    Kind  `json:"kind"`
	Skipped int64 `json:"skipped,omitempty"`
	// Previous is the group's committed offset there before, -1 if none.
	Previous int64 `json:"previous"`
	// Changed says To differs from Previous (and was, unless dry, committed).
	Changed bool `json:"changed"`
	// Record is the record To points at; nil at the end of the data.
	Record *Record `json:"record,omitempty"`
	// Native counts records written natively on the target. Migrating:
	// those between the last copy the group consumed and the copy of its
	// next record, which it has not seen; To is then the first of them,
	// so that it reads them before the copy. Rolling back: those after
	// the group's target position, which the source cannot replay.
	Native int64 `json:"native,omitempty"`
	// Unreachable counts the records written natively on the target
	// before the last copy the group consumed (below the exact position
	// and not reachable from it); UnreachableNatives names their
	// offsets. Migrating only; with NativesSkip the group never reads
	// them, with NativesReread To is the first of them.
	Unreachable        int64         `json:"unreachable_natives,omitempty"`
	UnreachableNatives []NativeRange `json:"unreachable_native_offsets,omitempty"`
	// Reread counts, with NativesReread, the copies between To and the
	// exact position that the group reads a second time.
	Reread int64 `json:"reread_copies,omitempty"`

	// metadata is the commit metadata the group stored with From, copied
	// with the commit.
	metadata string
	// lower is, for a forward exact translation, one past the last copy
	// before To (0 when there is none): [lower, To) holds no copy of the
	// partition, and whatever records it holds were written natively on
	// the target. -1 when not applicable.
	lower int64
	// bound is ReachBound of the translation: natives below it are
	// unreachable from it; -1 when not applicable.
	bound int64
	// m is the partition's offset map (forward exact translations).
	m *offsetmap.Map
	// exact is the position before NativesReread moved To back to the
	// first unreachable native (the rewind guard compares with it);
	// reread says it did.
	exact  int64
	reread bool
}

// maxPointers bounds the concurrent record reads of one group.
const maxPointers = 8

// Migrate moves one consumer group's committed offsets from the source to
// the target: it requires the group to be inactive on the source (waiting
// up to opts.WaitInactive) and to have no consumers on the target,
// translates every committed offset of a mirrored topic exactly (waiting
// up to opts.MirrorWait for the mirror to copy that far), reads the target
// record each translation points at to check it is the copy the offset map
// says, and commits the translations on the target. Only offsets are
// written (with the metadata the group committed on the source); the
// group's membership and protocol are left for the application to set
// when it joins.
//
// Re-running is idempotent: partitions already at their translation are
// not committed again. A translation below the group's current target
// offset (it consumed on the target since) is refused with ErrRewind
// unless opts.AllowRewind. After committing, Migrate checks that the
// group is still inactive with the same offsets on the source, and returns
// ErrMoved if not.
//
// The result is returned whatever happened; the error says why the group
// was not (fully) migrated.
func Migrate(ctx context.Context, h *migration.Handle, group string, opts MigrateOptions) (*GroupResult, error) {
	c := newClusters(h, opts.Poll)
	res := &GroupResult{Group: group, Method: MethodExact, DryRun: opts.DryRun, Partitions: []PartitionResult{}}
	if !opts.ToTimestamp.IsZero() {
		res.Method = MethodTimestamp
	}
	err := c.migrate(ctx, group, opts, res)
	if err != nil {
		res.fail(err)
	}
	return res, err
}

func (c *clusters) migrate(ctx context.Context, group string, opts MigrateOptions, res *GroupResult) error {
	src, tgt := c.srcAdm(), c.tgtAdm()
	if _, err := c.waitInactive(ctx, src, group, "source", opts.WaitInactive); err != nil {
		return fmt.Errorf("%w: stop the application on the source first (or pass --wait to wait for it)", err)
	}
	if _, err := c.waitInactive(ctx, tgt, group, "target", 0); err != nil {
		return fmt.Errorf("%w: stop the consumers using its name on the target first", err)
	}
	offsets, err := fetchCommitted(ctx, src, group)
	if err != nil {
		return err
	}
	if len(offsets) == 0 {
		return fmt.Errorf("group %q has no committed offsets on the source: %w", group, ErrNoOffsets)
	}
	snap, cached, err := opts.Cache.get(ctx, c.State)
	if err != nil {
		return fmt.Errorf("read migration state: %w", err)
	}
	if snap == nil || snap.Meta == nil {
		return fmt.Errorf("%w: run kmigrate mirror first", migration.ErrNoState)
	}
	mirrored, unmirrored := splitMirrored(snap, offsets)
	if len(unmirrored) > 0 && cached {
		// A topic may have joined the migration since the shared read.
		if snap, err = c.State(ctx); err != nil {
			return fmt.Errorf("read migration state: %w", err)
		}
		opts.Cache.put(snap)
		cached = false
		mirrored, unmirrored = splitMirrored(snap, offsets)
	}
	res.Unmirrored = append(res.Unmirrored, unmirrored...)
	if len(mirrored) == 0 {
		return fmt.Errorf("none of the topics group %q committed offsets for is mirrored by migration %s: %w", group, snap.Meta.Migration, ErrNoOffsets)
	}

	if res.Method == MethodTimestamp {
		err = c.byTimestamp(ctx, snap.Meta.Topics, mirrored, opts.ToTimestamp, res)
	} else {
		err = c.translateAll(ctx, snap, cached, mirrored, opts, res)
	}
	if err != nil {
		return err
	}
	if err := c.point(ctx, res, true); err != nil {
		return err
	}
	for _, p := range res.Partitions {
		if p.Native > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s/%d: %d records were written natively on the target between the last copy the group consumed and the copy of source offset %d: the group has not seen them, so it resumes at offset %d and reads them first",
				p.ToTopic, p.Partition, p.Native, p.From, p.To))
		}
	}
	if err := c.unreachable(ctx, group, res, opts.Natives); err != nil {
		return err
	}

	prev, err := fetchCommitted(ctx, tgt, group)
	if err != nil {
		return err
	}
	commit, err := plan(res, prev, opts.AllowRewind, "target")
	if err != nil {
		return err
	}
	if opts.DryRun {
		return nil
	}
	if len(commit) == 0 {
		// Already in place (a re-run, or group sync got there first):
		// the group is migrated all the same.
		c.record(ctx, group, "migrated", "offsets already in place on the target")
		return nil
	}
	if err := commitOffsets(ctx, tgt, group, commit); err != nil {
		return err
	}
	c.Logger.Info("migrated group offsets", "group", group, "partitions", res.Committed)

	// The group may have restarted on the source while we translated: its
	// new offsets would not be on the target.
	after, err := fetchCommitted(ctx, src, group)
	if err != nil {
		return err
	}
	s, err := describeGroup(ctx, src, group)
	if err != nil {
		return err
	}
	if !s.inactive() || !slices.Equal(after, offsets) {
		return fmt.Errorf("group %q: %w (now %s with %s): stop it and run groups migrate again", group, ErrMoved, s.State, members(s.Members))
	}
	c.record(ctx, group, "migrated", fmt.Sprintf("%d partitions committed on the target", res.Committed))
	return nil
}

// splitMirrored splits a group's committed offsets into those of topics
// the migration mirrors (snap's meta) and the others.
func splitMirrored(snap *state.Snapshot, offsets []committed) (mirrored []committed, unmirrored []Offset) {
	for _, o := range offsets {
		if _, ok := snap.Meta.Topics[o.TP.Topic]; ok {
			mirrored = append(mirrored, o)
		} else {
			unmirrored = append(unmirrored, Offset{Topic: o.TP.Topic, Partition: o.TP.Partition, Offset: o.At})
		}
	}
	return mirrored, unmirrored
}

// translateAll translates the mirrored offsets from the offset map,
// reading the state again until the mirror has copied up to all of them
// or opts.MirrorWait passes. A cached snapshot (opts.Cache) behind the
// offsets is read again at once, before anything is judged behind.
func (c *clusters) translateAll(ctx context.Context, snap *state.Snapshot, cached bool, mirrored []committed, opts MigrateOptions, res *GroupResult) error {
	deadline := time.Now().Add(opts.MirrorWait)
	for {
		parts, behind, err := translate(snap, mirrored)
		if err != nil {
			return err
		}
		if len(behind) > 0 && cached {
			if snap, err = c.State(ctx); err != nil {
				return fmt.Errorf("read migration state: %w", err)
			}
			opts.Cache.put(snap)
			cached = false
			continue
		}
		if len(behind) == 0 {
			res.Partitions = parts
			for _, p := range parts {
				if p.Kind == Expired {
					res.Warnings = append(res.Warnings, fmt.Sprintf("%s/%d: committed offset %d is below the first copied record: the group will not see the %d records of source offsets %d..%d, which expired from the source before they could be copied",
						p.Topic, p.Partition, p.From, p.Skipped, p.From, p.From+p.Skipped-1))
				}
			}
			return nil
		}
		if opts.DryRun || opts.MirrorWait <= 0 || time.Now().After(deadline) {
			res.Partitions = parts
			waited := ""
			if opts.MirrorWait > 0 && !opts.DryRun {
				waited = fmt.Sprintf(" after waiting %v", opts.MirrorWait)
			}
			return fmt.Errorf("the mirror has not copied up to the group's committed offsets%s on %s: %w: is kmigrate mirror running? (raise --mirror-wait to wait longer)",
				waited, strings.Join(behind, ", "), ErrNotMirrored)
		}
		c.Logger.Info("waiting for the mirror to copy up to the group's offsets", "behind", strings.Join(behind, ", "))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.Poll):
		}
		if snap, err = c.State(ctx); err != nil {
			return fmt.Errorf("read migration state: %w", err)
		}
		opts.Cache.put(snap)
	}
}

// translate translates each committed offset from snap; behind describes
// the partitions the mirror has not copied far enough.
func translate(snap *state.Snapshot, mirrored []committed) (parts []PartitionResult, behind []string, err error) {
	cache := map[state.TopicPartition]Partition{}
	for _, o := range mirrored {
		p, ok := cache[o.TP]
		if !ok {
			if p, err = FromSnapshot(snap, o.TP); err != nil {
				return nil, nil, err
			}
			cache[o.TP] = p
		}
		r, err := Translate(p, o.At)
		if err != nil {
			return nil, nil, fmt.Errorf("translate %s: %w", o.TP, err)
		}
		if r.Kind == NotYetMirrored {
			behind = append(behind, fmt.Sprintf("%s (committed %d, copied below %d)", o.TP, o.At, p.Checkpoint.Next))
		}
		lower, bound := int64(-1), ReachBound(p, r)
		switch r.Kind {
		case Exact, NextCopied, Expired:
			lower = bound
		}
		parts = append(parts, PartitionResult{
			Topic: o.TP.Topic, Partition: o.TP.Partition, From: o.At,
			ToTopic: snap.Meta.Topics[o.TP.Topic], To: r.Offset, Kind: r.Kind, Skipped: r.Skipped,
			Previous: -1, metadata: o.Metadata, lower: lower, bound: bound, m: p.Map,
		})
	}
	return parts, behind, nil
}

// byTimestamp sets every partition to the first target offset at or after
// ts (the end when there is none).
func (c *clusters) byTimestamp(ctx context.Context, topics map[string]string, mirrored []committed, ts time.Time, res *GroupResult) error {
	var targets []string
	for _, o := range mirrored {
		if t := topics[o.TP.Topic]; !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
	}
	listed, err := c.tgtAdm().ListOffsetsAfterMilli(ctx, ts.UnixMilli(), targets...)
	if err != nil {
		return fmt.Errorf("list target offsets by timestamp: %w", err)
	}
	for _, o := range mirrored {
		to := topics[o.TP.Topic]
		l, ok := listed.Lookup(to, o.TP.Partition)
		if !ok || l.Err != nil {
			return fmt.Errorf("list offset by timestamp of %s/%d on the target: %v", to, o.TP.Partition, l.Err)
		}
		res.Partitions = append(res.Partitions, PartitionResult{
			Topic: o.TP.Topic, Partition: o.TP.Partition, From: o.At,
			ToTopic: to, To: l.Offset, Kind: Timestamp, Previous: -1, metadata: o.Metadata, lower: -1, bound: -1,
		})
	}
	res.Warnings = append(res.Warnings, fmt.Sprintf("offsets were reset to the first record at or after %s on the target, not translated: the group may re-read or skip records around that time", ts.UTC().Format(time.RFC3339Nano)))
	return nil
}

// point reads the record each translation points at (on the target when
// forward, else on the source) and, for exact translations with tracing
// headers, checks it is the copy the map says: the copy of From itself
// (exact) or of a later source offset (skipping a gap).
func (c *clusters) point(ctx context.Context, res *GroupResult, forward bool) error {
	cl := c.Target
	if !forward {
		cl = c.Source
	}
	p := newPointer(cl)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxPointers)
	for i := range res.Partitions {
		pr := &res.Partitions[i]
		if pr.To < 0 {
			continue
		}
		g.Go(func() error {
			var src SourcePartition
			if forward {
				src = SourcePartition{ClusterID: c.SourceID, Topic: pr.Topic, Partition: pr.Partition}
			}
			rec, ok, err := p.at(gctx, pr.ToTopic, pr.Partition, pr.To, src)
			if err != nil {
				return fmt.Errorf("read the record at %s/%d offset %d: %w", pr.ToTopic, pr.Partition, pr.To, err)
			}
			if !ok {
				if pr.Kind != End && pr.Kind != Timestamp {
					return fmt.Errorf("%s/%d: no record at or after offset %d, which the map says holds a copy of source offset %d or later: %w", pr.ToTopic, pr.Partition, pr.To, pr.From, ErrMismatch)
				}
				return nil
			}
			pr.Record = &rec
			if !forward || pr.Kind == Timestamp || pr.Kind == End {
				return nil
			}
			if rec.Origin < 0 { // tracing headers off: nothing to check
				return nativesFirst(gctx, p, c.SourceID, pr)
			}
			if rec.Offset != pr.To || (pr.Kind == Exact && rec.Origin != pr.From) || rec.Origin < pr.From {
				return fmt.Errorf("%s/%d: offset %d: the target holds the copy of source offset %d at offset %d, the map translates source offset %d to %d (%s): %w; was the target topic recreated? run kmigrate groups list to compare",
					pr.ToTopic, pr.Partition, pr.To, rec.Origin, rec.Offset, pr.From, pr.To, pr.Kind, ErrMismatch)
			}
			return nativesFirst(gctx, p, c.SourceID, pr)
		})
	}
	return g.Wait()
}

// nativesFirst moves a forward translation back over records written
// natively on the target between the last copy the group consumed and the
// copy of its next record: the group has not seen them (they are not on
// the source), so it must read them, and no copy lies among them.
func nativesFirst(ctx context.Context, p *pointer, sourceID string, pr *PartitionResult) error {
	if pr.lower < 0 || pr.lower >= pr.To {
		return nil
	}
	n, first, err := p.natives(ctx, pr.ToTopic, pr.Partition, pr.lower, pr.To, SourcePartition{ClusterID: sourceID, Topic: pr.Topic, Partition: pr.Partition})
	if err != nil {
		return err
	}
	if n > 0 {
		pr.Native, pr.To = n, first
	}
	return nil
}

// equivalent reports whether the group's committed offset there is past the
// translation but delivers the same next record: no committed record lies
// between them (only transaction markers or aborted records, or nothing:
// Record is the first committed record at or after To, nil at the end).
// It happens when the group sync committed a translation made from a newer
// state, where the group's next record had been copied (Exact), while this
// one saw it not copied yet (End, one past the last copy, where the commit
// marker is). Keeping the committed offset is then right, and no rewind.
func equivalent(pr *PartitionResult) bool {
	return pr.Previous > pr.To && pr.Kind == End && (pr.Record == nil || pr.Record.Offset >= pr.Previous)
}

// plan compares the translations with the group's committed offsets prev
// on the cluster it moves to, marks what changes and returns the offsets
// to commit. A translation below a committed offset is ErrRewind unless
// allowed.
func plan(res *GroupResult, prev []committed, allowRewind bool, cluster string) (kadm.Offsets, error) {
	at := map[state.TopicPartition]committed{}
	for _, p := range prev {
		at[p.TP] = p
	}
	commit := kadm.Offsets{}
	var rewinds []string
	for i := range res.Partitions {
		pr := &res.Partitions[i]
		if p, ok := at[state.TopicPartition{Topic: pr.ToTopic, Partition: pr.Partition}]; ok {
			pr.Previous = p.At
		}
		if pr.Previous == pr.To || equivalent(pr) {
			continue
		}
		floor := pr.To
		if pr.reread {
			// Re-reading was chosen: only a position past the exact one
			// means the group consumed on the target.
			floor = pr.exact
		}
		if pr.Previous > floor && !allowRewind {
			rewinds = append(rewinds, fmt.Sprintf("%s/%d at %d, translation %d", pr.ToTopic, pr.Partition, pr.Previous, pr.To))
		}
		pr.Changed = true
		res.Committed++
		commit.Add(kadm.Offset{Topic: pr.ToTopic, Partition: pr.Partition, At: pr.To, LeaderEpoch: -1, Metadata: pr.metadata})
	}
	if len(rewinds) > 0 {
		res.Committed = 0
		for i := range res.Partitions {
			res.Partitions[i].Changed = false
		}
		return nil, fmt.Errorf("the group has consumed further on the %s than the translation (%s): %w; it has run there since it was migrated: pass --force to move it back (it will re-read those records)",
			cluster, strings.Join(rewinds, "; "), ErrRewind)
	}
	return commit, nil
}
