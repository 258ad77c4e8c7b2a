package acls

import (
	"context"
	"fmt"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/quotas"
	"github.com/kmigrate/kmigrate/internal/users"
)

// Access is everything around the data compared at once: the migration's
// ACL bindings, client quotas and SCRAM users on both sides, as `kmigrate
// access plan` shows them. plan, status and verify report it through
// Compare, so there is one comparison, the one access apply acts on.
type Access struct {
	// InSync: the target holds the source's bindings and quotas for the
	// migration, and every source user. False when Error is set.
	InSync bool         `json:"in_sync"`
	ACLs   *Plan        `json:"acls,omitempty"`
	Quotas *quotas.Plan `json:"quotas,omitempty"`
	Users  *users.Plan  `json:"users,omitempty"`
	// Sync is the last result of the mirror's ACL sync (sync.go), as
	// the migration's state records it; nil when none ran.
	Sync *SyncResult `json:"acl_sync,omitempty"`
	// Error is why they could not be compared ("" when they were), for
	// example credentials that may not describe ACLs: the commands that
	// report Access go on without it.
	Error string `json:"error,omitempty"`
}

// PlanAccess reads both sides and plans the target: the ACL, quota and user
// plans. It writes nothing. An error means one of them could not be
// planned; it names which.
func PlanAccess(ctx context.Context, h *migration.Handle) (*Access, error) {
	a := &Access{}
	var err error
	if a.ACLs, err = Make(ctx, h); err != nil {
		return nil, fmt.Errorf("ACLs: %w", err)
	}
	if a.Quotas, err = quotas.Make(ctx, h); err != nil {
		return nil, fmt.Errorf("quotas: %w", err)
	}
	if a.Users, err = users.Make(ctx, h); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	a.InSync = a.ACLs.InSync() && a.Quotas.InSync() && a.Users.InSync()
	return a, nil
}

// Compare is PlanAccess for reports: a failure is in Error, not returned,
// unless ctx ended.
func Compare(ctx context.Context, h *migration.Handle) (*Access, error) {
	a, err := PlanAccess(ctx, h)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return &Access{Error: err.Error()}, nil
	}
	a.Sync = lastSync(ctx, h)
	return a, nil
}

// lastSync is the ACL sync's last result as the state records it, nil
// when there is none or it cannot be read (a report goes on without it).
func lastSync(ctx context.Context, h *migration.Handle) *SyncResult {
	snap, err := h.LoadState(ctx)
	if err != nil || snap.ACLs == nil {
		return nil
	}
	rec, err := DecodeRecord(snap.ACLs)
	if err != nil {
		return nil
	}
	return rec.Last
}

// Summary is one line about a, for text output.
func (a *Access) Summary() string {
	if a.Error != "" {
		return "not compared: " + a.Error
	}
	verdict := "equal on both sides"
	if !a.InSync {
		verdict = "DIFFERENT (kmigrate access plan lists what kmigrate access apply would do)"
	}
	s := fmt.Sprintf("%s: ACL bindings %d of %d on the target, %d to create, %d extra, %d conflicts; quotas %d equal, %d to set, %d extra; users %d of %d on the target",
		verdict, a.ACLs.Equal, a.ACLs.Source, len(a.ACLs.Create), len(a.ACLs.Extra), len(a.ACLs.Spills),
		a.Quotas.Equal, len(a.Quotas.Set), len(a.Quotas.Extra), a.Users.Equal, len(a.Users.Source))
	if a.Sync != nil && a.Sync.Note == "" {
		// A sync that had nothing to do is no news.
		s += "; mirror's last ACL sync " + a.Sync.Summary()
	}
	return s
}
