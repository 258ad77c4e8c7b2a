package httpapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/offsets"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/status"
)

// verifiedEvery is how often the dashboard re-reads the verify summary (a
// read of the whole state topic; it changes only when verify runs).
const verifiedEvery = 10 * time.Second

// DashboardFor is what a dashboard over an open migration shows: the
// status report made with o (one native-records cache for every report),
// the last verify summary, translations, and, when r is a running mirror
// (nil for kmigrate status --serve), its progress and group sync.
func DashboardFor(h *migration.Handle, r *migrate.Runner, o status.Options) DashboardSources {
	src := dashboardOf(status.ClustersOf(h), o)
	if r != nil {
		src.Stats = func() (mirror.Stats, bool) { return r.Stats(), true }
		src.Groups = func() (groups.SyncStatus, bool) {
			if s := r.GroupSync(); s != nil {
				return s.Status(), true
			}
			return groups.SyncStatus{}, false
		}
	}
	return src
}

// DashboardForTarget is what kmigrate status --serve shows of a migration
// opened from its target (status.OpenTarget): the same, without a mirror
// process, and without the source's figures when the source cannot be
// read from there.
func DashboardForTarget(t *status.Target, o status.Options) DashboardSources {
	return dashboardOf(t.Clusters(), o)
}

// dashboardOf is the dashboard of the migration c reads.
func dashboardOf(c status.Clusters, o status.Options) DashboardSources {
	o.Natives = groups.NewNativeCache()
	var (
		mu   sync.Mutex
		read time.Time
		last *state.Verified
	)
	return DashboardSources{
		Report: func(ctx context.Context) (*status.Report, error) {
			return status.MakeFrom(ctx, c, o)
		},
		Verified: func(ctx context.Context) (*state.Verified, error) {
			mu.Lock()
			defer mu.Unlock()
			if !read.IsZero() && time.Since(read) < verifiedEvery {
				return last, nil
			}
			snap, err := c.State(ctx)
			if err != nil {
				return nil, err
			}
			read, last = time.Now(), snap.Verified
			return last, nil
		},
		Translate: func(ctx context.Context, p offsets.Position, o offsets.Options) (offsets.Answer, error) {
			snap, err := c.State(ctx)
			if err == nil && snap.Meta == nil {
				err = fmt.Errorf("%w: the state topic holds no migration yet", migration.ErrNoState)
			}
			if err != nil {
				return offsets.Answer{From: p, To: -1}, fmt.Errorf("read migration state: %w", err)
			}
			return offsets.FromSnapshot(snap, c.Target, c.SourceID, o).Translate(ctx, p)
		},
	}
}
