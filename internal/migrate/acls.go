package migrate

import (
	"context"

	"github.com/kmigrate/kmigrate/internal/acls"
)

// Unless Options.NoACLSync (mirror --acls off), the runner gives the target
// the migration's ACL bindings (acls.Syncer): a bounded copy once, before
// it copies; a continuous mirror in its leader work, at start and then
// every Options.ACLSyncInterval, so that exactly one process of a
// migration syncs them. A sync that fails is logged and recorded, and the
// data mirror goes on.
//
// With --protect-target the guards deny writes to the principals the
// target allows to write, so they are refreshed after each ACL sync pass
// that created bindings: a bounded copy before it copies, a continuous
// mirror right after the pass (until then, a principal given WRITE by
// that pass is not yet denied on unpromoted topics).

// ACLSync is the runner's ACL Syncer, nil with Options.NoACLSync.
func (r *Runner) ACLSync() *acls.Syncer { return r.acls }

// syncACLsOnce runs one ACL sync pass for a bounded copy, and refreshes
// the guards after it; an error is a guard that could not be set (a
// failed sync is only reported).
func (r *Runner) syncACLsOnce(ctx context.Context) error {
	if r.acls == nil {
		return nil
	}
	res, err := r.acls.Sync(ctx) // reported by Sync
	if err != nil && ctx.Err() != nil {
		return err
	}
	if r.opts.ProtectTarget && len(res.Created) > 0 {
		return r.protect(ctx)
	}
	return nil
}

// runACLSync runs the ACL sync as leader work until ctx ends.
func (r *Runner) runACLSync(ctx context.Context) {
	if r.acls != nil {
		r.log.Info("syncing ACL bindings to the target", "interval", r.acls.Interval())
		stale := false // a refresh failed: retry after every pass
		r.acls.Run(ctx, func(ctx context.Context, res *acls.SyncResult) {
			if !r.opts.ProtectTarget || (len(res.Created) == 0 && !stale) {
				return
			}
			err := r.protect(ctx)
			stale = err != nil
			if err != nil && ctx.Err() == nil {
				r.log.Warn("could not guard the target topics after the ACL sync; retrying after the next pass", "err", err)
			}
		})
	}
}
