package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kmigrate/kmigrate/internal/acls"
)

// With Options.ProtectTarget (mirror --protect-target) the runner keeps
// the target's write guards (package acls: DENY WRITE bindings for every
// principal the target allows to write, except the migrator) on the
// migration's target topics that are not promoted: set before anything is
// copied, and released for each topic as the promotion watcher sees it
// promoted. `kmigrate access unprotect` removes them for a migration
// given up or rolled back.

// errProtect marks a guard that could not be set or released.
var errProtect = errors.New("protect the target")

// protect sets the guards of unpromoted topics and releases those of
// promoted ones (acls.Protect, idempotent).
func (r *Runner) protect(ctx context.Context) error {
	p, err := acls.Protect(ctx, r.h)
	if err != nil {
		hint := ""
		switch {
		case errors.Is(err, acls.ErrNoAuthorizer):
			hint = ": the target has no authorizer, so no write can be denied; run without --protect-target"
		case errors.Is(err, acls.ErrUnknownMigrator):
			hint = ": connect to the target with a SASL user, which the guards exempt"
		}
		return fmt.Errorf("%w: %w%s", errProtect, err, hint)
	}
	for _, u := range p.Unprot {
		r.log.Warn("target topic cannot be protected", "topic", fmt.Sprint(u))
	}
	if len(p.Failed) > 0 {
		var fs []string
		for _, f := range p.Failed {
			fs = append(fs, fmt.Sprint(f))
		}
		return fmt.Errorf("%w: the target refused %d bindings (give the migrator ALTER on the cluster): %s", errProtect, len(p.Failed), strings.Join(fs, "; "))
	}
	if len(p.Added) > 0 || len(p.Removed) > 0 {
		r.log.Info("target write guards", "protected", len(p.Protected), "released", len(p.Released), "added", len(p.Added), "removed", len(p.Removed))
	}
	return nil
}
