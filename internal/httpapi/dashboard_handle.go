package httpapi

import (
	"context"
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
	o.Natives = groups.NewNativeCache()
	var (
		mu   sync.Mutex
		read time.Time
		last *state.Verified
	)
	src := DashboardSources{
		Report: func(ctx context.Context) (*status.Report, error) {
			return status.Make(ctx, h, o)
		},
		Verified: func(ctx context.Context) (*state.Verified, error) {
			mu.Lock()
			defer mu.Unlock()
			if !read.IsZero() && time.Since(read) < verifiedEvery {
				return last, nil
			}
			snap, err := h.LoadState(ctx)
			if err != nil {
				return nil, err
			}
			read, last = time.Now(), snap.Verified
			return last, nil
		},
		Translate: func(ctx context.Context, p offsets.Position, o offsets.Options) (offsets.Answer, error) {
			tr, err := offsets.New(ctx, h, o)
			if err != nil {
				return offsets.Answer{From: p, To: -1}, err
			}
			return tr.Translate(ctx, p)
		},
	}
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
