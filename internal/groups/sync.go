package groups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Sync states of a group, as SyncedGroup.State reports them.
const (
	// SyncSyncing: the group has no consumers on the target; its target
	// offsets follow its source offsets.
	SyncSyncing = "syncing"
	// SyncSwitched: the group became active on the target while inactive
	// on the source: its application moved, and sync stopped for it.
	SyncSwitched = "switched"
	// SyncActiveOnBoth: consumers use the group on both clusters, so
	// neither position is the group's: not synced, and a warning.
	SyncActiveOnBoth = "active-on-both"
	// SyncIdle: the source does not know the group (nothing to sync).
	SyncIdle = "idle"
	// SyncError: the group could not be described or synced; see Error.
	SyncError = "error"
)

// SyncStatus is what the Syncer has done, for logs and status.
type SyncStatus struct {
	// Passes counts completed sync passes; LastPass is when the last one
	// ended.
	Passes   int       `json:"passes"`
	LastPass time.Time `json:"last_pass"`
	// LastError is the last pass's error, "" if it succeeded.
	LastError string        `json:"last_error,omitempty"`
	Groups    []SyncedGroup `json:"groups"`
}

// SyncedGroup is one group's sync state.
type SyncedGroup struct {
	Group  string `json:"group"`
	State  string `json:"state"`
	Source Side   `json:"source"`
	Target Side   `json:"target"`
	// Commits counts the target offsets the Syncer committed for the
	// group since it started.
	Commits int64 `json:"commits"`
	// Behind counts partitions whose committed offset the mirror has
	// not copied yet (synced on a later pass).
	Behind int `json:"behind"`
	// SwitchedAt is when the switch was seen.
	SwitchedAt time.Time `json:"switched_at,omitzero"`
	Error      string    `json:"error,omitempty"`
}

// Syncer keeps the target offsets of consumer groups that consume on the
// source in step with their source offsets while mirroring continuously,
// so that an application can move to the target at any time with at most
// one sync interval of records to re-read. It is MirrorMaker 2's offset
// sync, exact: offsets translate with the offset map, not approximately.
//
// Each pass (Sync) lists the selected source groups and describes them on
// both clusters:
//
//   - no consumers on the target: each committed source offset on a
//     mirrored topic that the mirror has copied is translated and
//     committed on the target when it differs. Target offsets never move
//     backwards, unless the group's source offset moved backwards since
//     the Syncer last synced it (a reset on the source);
//   - active on the target and inactive on the source: the application
//     switched. The Syncer stops syncing the group (for as long as it
//     runs) and reports it;
//   - active on both: a warning, nothing synced.
type Syncer struct {
	c        *clusters
	sel      config.Selection
	interval time.Duration

	// last is, per group, the source offset each partition was last
	// synced from.
	last     map[string]map[state.TopicPartition]int64
	switched map[string]time.Time
	warned   map[string]bool

	mu     sync.Mutex
	status SyncStatus
	commit map[string]int64
}

// NewSyncer returns a Syncer of the groups sel selects, syncing every
// interval when run.
func NewSyncer(h *migration.Handle, sel config.Selection, interval time.Duration) (*Syncer, error) {
	c := newClusters(h, 0)
	if interval <= 0 {
		return nil, errors.New("groups: sync interval must be positive")
	}
	return &Syncer{c: c, sel: sel, interval: interval,
		last: map[string]map[state.TopicPartition]int64{}, switched: map[string]time.Time{},
		warned: map[string]bool{}, commit: map[string]int64{}}, nil
}

// Status returns a copy of the sync state after the last pass.
func (s *Syncer) Status() SyncStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Groups = slices.Clone(st.Groups)
	return st
}

// Run syncs every interval until ctx ends. A failed pass is logged and
// retried at the next interval.
func (s *Syncer) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.c.Logger.Warn("group offset sync failed; retrying at the next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync runs one pass. Only Run and tests call it, never concurrently.
func (s *Syncer) Sync(ctx context.Context) error {
	groups, err := s.pass(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Passes++
	s.status.LastPass = time.Now()
	s.status.LastError = ""
	if err != nil {
		s.status.LastError = err.Error()
		return err
	}
	for i := range groups {
		groups[i].Commits = s.commit[groups[i].Group]
	}
	s.status.Groups = groups
	return nil
}

func (s *Syncer) pass(ctx context.Context) ([]SyncedGroup, error) {
	names, srcSides, tgtSides, err := describeSelected(ctx, s.c.srcAdm(), s.c.tgtAdm(), s.sel)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	snap, err := s.c.State(ctx)
	if errors.Is(err, migration.ErrNoState) {
		return nil, nil // the mirror has not started yet
	}
	if err != nil {
		return nil, fmt.Errorf("read migration state: %w", err)
	}
	// Switches recorded in the state (groups migrate, an earlier sync)
	// count as seen; a rollback recorded after a switch undoes it.
	for g, sw := range snap.Switched {
		switch {
		case sw.How == "rolled-back" && !s.switched[g].IsZero() && sw.Time.After(s.switched[g]):
			delete(s.switched, g)
		case sw.How != "rolled-back" && s.switched[g].IsZero():
			s.switched[g] = sw.Time
		}
	}
	out := make([]SyncedGroup, 0, len(names))
	var toSync []int
	for _, name := range names {
		g := SyncedGroup{Group: name, Source: srcSides[name], Target: tgtSides[name]}
		switch srcIn, tgtIn := g.Source.inactive(), g.Target.inactive(); {
		case !s.switched[name].IsZero():
			g.State, g.SwitchedAt = SyncSwitched, s.switched[name]
		case g.Source.Err != "" || g.Target.Err != "":
			g.State, g.Error = SyncError, g.Source.Err+g.Target.Err
		case !tgtIn && srcIn:
			now := time.Now()
			s.switched[name] = now
			g.State, g.SwitchedAt = SyncSwitched, now
			s.c.Logger.Info("consumer group switched to the target: no longer syncing its offsets", "group", name,
				"target_state", g.Target.State, "target_members", g.Target.Members)
			s.c.record(ctx, name, "detected", fmt.Sprintf("active on the target (%s), inactive on the source", members(g.Target.Members)))
		case !tgtIn:
			g.State = SyncActiveOnBoth
			if !s.warned[name] {
				s.c.Logger.Warn("consumer group is active on both clusters: not syncing its offsets; stop it on one side",
					"group", name, "source_members", g.Source.Members, "target_members", g.Target.Members)
			}
		case g.Source.State == StateDead:
			g.State = SyncIdle
		default:
			g.State = SyncSyncing
			toSync = append(toSync, len(out))
		}
		s.warned[name] = g.State == SyncActiveOnBoth
		out = append(out, g)
	}
	if len(toSync) == 0 {
		return out, nil
	}
	if snap == nil || snap.Meta == nil {
		return out, nil
	}
	for _, i := range toSync {
		g := &out[i]
		n, behind, err := s.syncGroup(ctx, snap, g.Group)
		g.Behind = behind
		s.mu.Lock()
		s.commit[g.Group] += int64(n)
		s.mu.Unlock()
		if err != nil {
			g.State, g.Error = SyncError, err.Error()
			s.c.Logger.Warn("could not sync group offsets", "group", g.Group, "err", err)
		}
	}
	return out, nil
}

// syncGroup commits the translations of one group's source offsets that
// move its target offsets, and returns how many it committed and how many
// partitions wait for the mirror.
func (s *Syncer) syncGroup(ctx context.Context, snap *state.Snapshot, group string) (committedN, behind int, err error) {
	offsets, err := fetchCommitted(ctx, s.c.srcAdm(), group)
	if err != nil {
		return 0, 0, err
	}
	var mirrored []committed
	for _, o := range offsets {
		if _, ok := snap.Meta.Topics[o.TP.Topic]; ok {
			mirrored = append(mirrored, o)
		}
	}
	if len(mirrored) == 0 {
		return 0, 0, nil
	}
	parts, _, err := translate(snap, mirrored)
	if err != nil {
		return 0, 0, err
	}
	prev, err := fetchCommitted(ctx, s.c.tgtAdm(), group)
	if err != nil {
		return 0, 0, err
	}
	at := map[state.TopicPartition]int64{}
	for _, p := range prev {
		at[p.TP] = p.At
	}
	last := s.last[group]
	if last == nil {
		last = map[state.TopicPartition]int64{}
		s.last[group] = last
	}
	commit := kadm.Offsets{}
	var synced []PartitionResult
	ptr := newPointer(s.c.Target)
	for _, p := range parts {
		stp := state.TopicPartition{Topic: p.Topic, Partition: p.Partition}
		if p.Kind == NotYetMirrored {
			behind++
			continue
		}
		cur, ok := at[state.TopicPartition{Topic: p.ToTopic, Partition: p.Partition}]
		if !ok || cur != p.To {
			// As Migrate: records written natively on the target since
			// the last copy the group consumed come first.
			if err := nativesFirst(ctx, ptr, s.c.SourceID, &p); err != nil {
				return 0, behind, err
			}
		}
		if ok && cur == p.To {
			last[stp] = p.From
			continue
		}
		if prevFrom, seen := last[stp]; ok && cur > p.To && (!seen || p.From >= prevFrom) {
			// Never backwards, unless the source went backwards.
			continue
		}
		commit.Add(kadm.Offset{Topic: p.ToTopic, Partition: p.Partition, At: p.To, LeaderEpoch: -1, Metadata: p.metadata})
		synced = append(synced, p)
	}
	if len(commit) == 0 {
		return 0, behind, nil
	}
	// groups migrate (another process) may have committed since this pass
	// read the target: a commit now would overwrite its exact position
	// with a translation of older source offsets. Offsets commits cannot
	// be conditional, so read again, as late as possible, and leave every
	// partition that moved under us to the next pass.
	now, err := fetchCommitted(ctx, s.c.tgtAdm(), group)
	if err != nil {
		return 0, behind, err
	}
	for _, p := range now {
		if was, ok := at[p.TP]; !ok || was != p.At {
			commit.Delete(p.TP.Topic, p.TP.Partition)
			synced = slices.DeleteFunc(synced, func(r PartitionResult) bool { return r.ToTopic == p.TP.Topic && r.Partition == p.TP.Partition })
		}
	}
	if len(commit) == 0 {
		return 0, behind, nil
	}
	if err := commitOffsets(ctx, s.c.tgtAdm(), group, commit); err != nil {
		return 0, behind, err
	}
	for _, p := range synced {
		last[state.TopicPartition{Topic: p.Topic, Partition: p.Partition}] = p.From
	}
	s.c.Logger.Debug("synced group offsets to the target", "group", group, "partitions", len(synced))
	return len(synced), behind, nil
}
