package httpapi

import (
	"context"
	"time"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/status"
)

// StatusSample is the write-rate sample of the /v1/status a running mirror
// serves.
const StatusSample = 2 * time.Second

// ForRunner is what a running `kmigrate mirror` serves: the runner's
// progress and group sync, and the migration's status read through its
// handle. One native-records cache serves every status request, so that
// after the first one a request reads only what the mirror added since.
func ForRunner(h *migration.Handle, r *migrate.Runner) Sources {
	natives := groups.NewNativeCache()
	return Sources{
		Stats: func() (mirror.Stats, bool) { return r.Stats(), true },
		Groups: func() (groups.SyncStatus, bool) {
			if s := r.GroupSync(); s != nil {
				return s.Status(), true
			}
			return groups.SyncStatus{}, false
		},
		Status: func(ctx context.Context) (any, error) {
			return status.Make(ctx, h, status.Options{Quiet: status.DefaultQuiet, Sample: StatusSample, Natives: natives})
		},
	}
}
