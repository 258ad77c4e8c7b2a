package cli

import (
	"context"
	"os"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/verify"
)

// recordVerified writes the summary of a verify run to the migration's
// state, where the dashboard shows it. A failure is a warning: the report
// was printed, and the credentials may not allow writing the state topic.
func (e *env) recordVerified(ctx context.Context, h *migration.Handle, r *verify.Report) {
	host, _ := os.Hostname()
	t := r.Totals
	rec, err := state.VerifiedRecord(h.StateTopic(), state.Verified{
		Time: r.Snapshot, Host: host, Mode: r.Mode, Sample: r.Sample, OK: r.OK, Seconds: r.Seconds,
		Partitions: t.Partitions, FailedPartitions: t.Failed, ErrorPartitions: t.Errors,
		SourceRecords: t.SourceRecords, Matched: t.Matched, Problems: t.Problems, Pending: t.Pending,
		GroupsChecked: t.GroupsChecked, GroupsFailed: t.GroupsFailed,
	})
	if err == nil {
		err = state.Write(ctx, h.Target(), rec)
	}
	if err != nil {
		e.logger.Warn("the verify result was not recorded in the migration state (the dashboard will not show it)", "err", err)
	}
}
