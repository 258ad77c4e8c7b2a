package acls

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

// The mirror's ACL sync, and why it looks like this.
//
// `kmigrate mirror` gives the target the migration's bindings itself (the
// plan access apply acts on: the same scope, principal mapping, rename
// rule and spill policy) when it starts and then every sync interval, so
// that a binding added on the source appears on the target while the
// mirror runs, and a removed one goes. Exactly one process of a migration
// syncs: the one doing the leader work (package migrate).
//
// Removing needs to know which target bindings kmigrate created: Kafka
// bindings carry no label, and a binding someone created on the target
// must never be deleted because the source lacks it. So the Syncer keeps
// a record of the bindings it created in the migration's state topic on
// the target (state.ACLsRecord), which a restarted mirror, or the member
// that takes over the leader work, reads back. It is written before the
// bindings are created (a crash in between records a binding that may not
// exist, which a later pass creates or forgets), and again after. A
// binding the target held before the Syncer wanted it is not recorded, so
// it is never removed either. A recorded binding is removed only when no
// source binding maps to it any more; target-only bindings and the write
// guards of --protect-target (never recorded) are left alone.
//
// A sync that cannot be done (a target without an authorizer, a migrator
// that may not describe or alter ACLs) is reported, in the log and in the
// record's last result, and never stops the data mirror.

// DefaultSyncInterval is how often the mirror's ACL sync runs.
const DefaultSyncInterval = 30 * time.Second

// syncVersion is the version of the record's encoding.
const syncVersion = 1

// SyncRecord is what the state topic keeps for the ACL sync.
type SyncRecord struct {
	Version int `json:"version"`
	// Created are the target bindings the Syncer created, sorted.
	Created []Binding `json:"created"`
	// Last is the last pass's result.
	Last *SyncResult `json:"last,omitempty"`
}

// SyncResult is what one pass did.
type SyncResult struct {
	Time time.Time `json:"time"`
	// Created and Removed are the bindings this pass created and removed
	// on the target; HeldBack the spilling bindings it did not write
	// (allow them with acls.allow_spill or mirror --allow-spill); Failed
	// those the target refused.
	Created  []Binding `json:"created"`
	Removed  []Binding `json:"removed"`
	HeldBack []Spill   `json:"held_back"`
	Failed   []Failed  `json:"failed"`
	// Equal counts the source's bindings the target holds; Owned the
	// bindings kmigrate created that are on record now.
	Equal int `json:"equal"`
	Owned int `json:"owned"`
	// Note says why nothing was synced (no authorizer on the source or
	// the target); Error why the pass failed. Both "" after a full pass.
	Note  string `json:"note,omitempty"`
	Error string `json:"error,omitempty"`
}

// Summary is r as one line, for logs and text status.
func (r *SyncResult) Summary() string {
	s := fmt.Sprintf("at %s: %d created, %d removed, %d held back, %d failed; %d equal, %d created by kmigrate on record",
		r.Time.UTC().Format(time.RFC3339), len(r.Created), len(r.Removed), len(r.HeldBack), len(r.Failed), r.Equal, r.Owned)
	switch {
	case r.Error != "":
		s += "; FAILED: " + r.Error
	case r.Note != "":
		s += "; " + r.Note
	}
	return s
}

// ErrSyncNotAllowed: the migrator may not describe or alter ACLs.
var ErrSyncNotAllowed = errors.New("the migrator may not describe or alter ACLs: give it DESCRIBE and ALTER on the CLUSTER resource of both clusters (docs/acls.md), or run mirror with --acls off")

// Syncer keeps the target's bindings in step with the source's while a
// mirror runs; see above. Sync is one pass, Run repeats it.
type Syncer struct {
	h        *migration.Handle
	interval time.Duration
	log      *slog.Logger

	// noState: the last pass found no state topic (set and read by
	// Sync's goroutine only).
	noState bool
	// wrote is the last record written with its result's time zeroed,
	// and wroteAt when (Sync's goroutine only): an unchanged record is
	// written again only after RecordRefresh.
	wrote   []byte
	wroteAt time.Time

	mu   sync.Mutex
	last *SyncResult
	said *string // what was last logged, to say each thing once
}

// NewSyncer returns the Syncer of h's migration, passing every interval
// (DefaultSyncInterval when 0).
func NewSyncer(h *migration.Handle, interval time.Duration) *Syncer {
	if interval <= 0 {
		interval = DefaultSyncInterval
	}
	return &Syncer{h: h, interval: interval, log: h.Logger()}
}

// Interval is how often Run passes.
func (s *Syncer) Interval() time.Duration { return s.interval }

// Last is the last pass's result, nil before the first.
func (s *Syncer) Last() *SyncResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Run passes now and then every interval until ctx ends, calling after
// (if not nil) with each pass's result. A failed pass is logged (once per
// distinct reason) and retried at the next interval.
func (s *Syncer) Run(ctx context.Context, after func(context.Context, *SyncResult)) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		r, err := s.Sync(ctx) // reported by Sync
		if after != nil && (err == nil || ctx.Err() == nil) {
			after(ctx, r)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync is one pass: it plans the target's bindings (Make), records and
// creates the missing ones, and removes those it created whose source
// binding is gone. Idempotent. The error is also in the result (and the
// log); it never needs to stop the data mirror.
func (s *Syncer) Sync(ctx context.Context) (*SyncResult, error) {
	r := &SyncResult{Time: time.Now().UTC(), Created: []Binding{}, Removed: []Binding{}, HeldBack: []Spill{}, Failed: []Failed{}}
	owned, err := s.pass(ctx, r)
	if err != nil && ctx.Err() != nil {
		return r, err
	}
	if err != nil {
		r.Error = err.Error()
	}
	if owned != nil {
		r.Owned = len(owned)
	}
	s.report(r)
	if werr := s.writeLast(ctx, owned, r); werr != nil && err == nil {
		err = werr
	}
	return r, err
}

// report logs r, saying a note, an error or a held-back binding once
// until it changes.
func (s *Syncer) report(r *SyncResult) {
	say := fmt.Sprint(r.Error, "|", r.Note)
	for _, sp := range r.HeldBack {
		say += "|" + sp.Target.String()
	}
	s.mu.Lock()
	s.last = r
	repeat := s.said != nil && *s.said == say
	s.said = &say
	s.mu.Unlock()
	if len(r.Created) > 0 || len(r.Removed) > 0 || len(r.Failed) > 0 {
		s.log.Info("synced ACL bindings to the target", "created", len(r.Created), "removed", len(r.Removed), "failed", len(r.Failed))
	}
	if repeat {
		return
	}
	switch {
	case r.Error != "":
		s.log.Warn("ACL sync failed; the data mirror goes on, the sync retries every interval", "err", r.Error, "interval", s.interval)
	case r.Note != "":
		s.log.Info("ACL sync: nothing to sync", "reason", r.Note)
	}
	for _, sp := range r.HeldBack {
		s.log.Warn("ACL binding held back: on the target it would also cover topics outside the migration (allow with acls.allow_spill or mirror --allow-spill)",
			"binding", sp.Target.String(), "outside", sp.Outside)
	}
}

// pass does Sync's work; owned is the record's set of created bindings
// after it (nil when it was not read).
func (s *Syncer) pass(ctx context.Context, r *SyncResult) (owned map[Binding]bool, err error) {
	sc, err := ScopeOf(ctx, s.h)
	if err != nil {
		return nil, err
	}
	src, err := Read(ctx, s.h.Source())
	switch {
	case errors.Is(err, ErrNoAuthorizer):
		r.Note = "the source has no authorizer: no bindings to move"
		return nil, nil
	case err != nil:
		return nil, notAllowed(fmt.Errorf("source: %w", err))
	}
	tgt, err := Read(ctx, s.h.Target())
	switch {
	case errors.Is(err, ErrNoAuthorizer):
		if p := Diff(src, nil, sc); p.Source > 0 {
			return nil, fmt.Errorf("the target has no authorizer: it cannot hold the source's %d bindings for the migration (enable one on the target, or run mirror with --acls off)", p.Source)
		}
		r.Note = "no bindings concern the migration (and the target has no authorizer)"
		return nil, nil
	case err != nil:
		return nil, notAllowed(fmt.Errorf("target: %w", err))
	}
	p := Diff(src, tgt, sc)
	r.Equal = p.Equal
	for _, sp := range p.Spills {
		if !sp.Allowed && !sp.OnTarget {
			r.HeldBack = append(r.HeldBack, sp)
		}
	}
	rec, err := s.record(ctx)
	if err != nil {
		return nil, err
	}
	onTarget, wanted := set(tgt), map[Binding]bool{}
	for _, b := range src {
		wanted[Map(b, sc.Naming, sc.Rules)] = true
	}
	owned = set(rec.Created)
	var remove []Binding
	for _, b := range rec.Created {
		switch {
		case wanted[b]:
		case onTarget[b]:
			remove = append(remove, b)
		default:
			delete(owned, b) // gone from both sides
		}
	}
	if p.Source == 0 && len(rec.Created) == 0 {
		r.Note = "no bindings on the source concern the migration"
	}
	if len(p.Create) == 0 && len(remove) == 0 {
		return owned, nil
	}
	for _, b := range p.Create {
		owned[b] = true
	}
	// Recorded before created: see above.
	if err := s.write(ctx, owned, s.Last()); err != nil {
		return nil, err
	}
	failed, err := Create(ctx, s.h.Target(), p.Create)
	if err != nil {
		return owned, notAllowed(fmt.Errorf("target: %w", err))
	}
	r.Failed = append(r.Failed, failed...)
	r.Created = without(p.Create, failed)
	for _, f := range failed {
		delete(owned, f.Binding)
	}
	failed, err = Delete(ctx, s.h.Target(), remove)
	if err != nil {
		return owned, notAllowed(fmt.Errorf("target: %w", err))
	}
	r.Failed = append(r.Failed, failed...)
	r.Removed = without(remove, failed)
	for _, b := range r.Removed {
		delete(owned, b)
	}
	if len(r.Failed) > 0 {
		errs := []error{ErrRefused}
		for _, f := range r.Failed {
			errs = append(errs, fmt.Errorf("%s: %w", f.Binding, f.Err))
		}
		return owned, notAllowed(errors.Join(errs...))
	}
	return owned, nil
}

// notAllowed wraps ErrSyncNotAllowed around an authorization failure.
func notAllowed(err error) error {
	if errors.Is(err, kerr.ClusterAuthorizationFailed) {
		return fmt.Errorf("%w: %w", ErrSyncNotAllowed, err)
	}
	return err
}

func set(bs []Binding) map[Binding]bool {
	out := make(map[Binding]bool, len(bs))
	for _, b := range bs {
		out[b] = true
	}
	return out
}

// record reads the Syncer's record from the state (empty when none).
func (s *Syncer) record(ctx context.Context) (*SyncRecord, error) {
	snap, err := s.h.LoadState(ctx)
	s.noState = errors.Is(err, state.ErrNoState)
	switch {
	case s.noState:
		return &SyncRecord{}, nil
	case err != nil:
		return nil, fmt.Errorf("read the ACL sync's record: %w", err)
	}
	return DecodeRecord(snap.ACLs)
}

// DecodeRecord decodes the ACL sync's record from the state (empty for
// nil).
func DecodeRecord(b []byte) (*SyncRecord, error) {
	rec := &SyncRecord{}
	if b == nil {
		return rec, nil
	}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("decode the ACL sync's record: %w", err)
	}
	if rec.Version > syncVersion {
		return nil, fmt.Errorf("ACL sync record written by a newer kmigrate (version %d, this one reads %d): upgrade kmigrate", rec.Version, syncVersion)
	}
	return rec, nil
}

// RecordRefresh is how long the ACL sync goes without writing its record
// when nothing but the time of its last pass changed: status shows a
// pass at most this old while passes find nothing new, instead of one
// state record every interval.
const RecordRefresh = 10 * time.Minute

// write stores the set of created bindings and last, unless the same
// record (but for last's time) was written less than RecordRefresh ago.
func (s *Syncer) write(ctx context.Context, owned map[Binding]bool, last *SyncResult) error {
	created := make([]Binding, 0, len(owned))
	for b := range owned {
		created = append(created, b)
	}
	slices.SortFunc(created, compare)
	b, err := json.Marshal(SyncRecord{Version: syncVersion, Created: created, Last: last})
	if err != nil {
		return err
	}
	same, err := json.Marshal(SyncRecord{Version: syncVersion, Created: created, Last: untimed(last)})
	if err != nil {
		return err
	}
	if bytes.Equal(same, s.wrote) && time.Since(s.wroteAt) < RecordRefresh {
		return nil
	}
	rf := s.h.Config().Topics.ReplicationFactor
	if rf <= 0 {
		rf = -1
	}
	if _, err := state.Ensure(ctx, s.h.TargetAdmin(), s.h.StateTopic(), rf); err != nil {
		return fmt.Errorf("record the bindings kmigrate created: %w", err)
	}
	if err := state.Write(ctx, s.h.Target(), state.ACLsRecord(s.h.StateTopic(), b)); err != nil {
		return fmt.Errorf("record the bindings kmigrate created: %w", err)
	}
	s.wrote, s.wroteAt = same, time.Now()
	return nil
}

// untimed is r without its time (nil for nil).
func untimed(r *SyncResult) *SyncResult {
	if r == nil {
		return nil
	}
	c := *r
	c.Time = time.Time{}
	return &c
}

// writeLast stores r as the record's last result with owned (nil: the
// created set as the state has it). Without a state topic and nothing
// created it writes nothing: a migration whose ACLs need nothing gets no
// state for them.
func (s *Syncer) writeLast(ctx context.Context, owned map[Binding]bool, r *SyncResult) error {
	if owned != nil && len(owned) == 0 && s.noState {
		return nil
	}
	if owned == nil {
		snap, err := s.h.LoadState(ctx)
		switch {
		case errors.Is(err, state.ErrNoState):
			return nil
		case err != nil:
			return fmt.Errorf("read the ACL sync's record: %w", err)
		}
		rec, err := DecodeRecord(snap.ACLs)
		if err != nil {
			return err
		}
		owned = set(rec.Created)
	}
	return s.write(ctx, owned, r)
}
