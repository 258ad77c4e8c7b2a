package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/httpapi"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/status"
)

func (e *env) mirrorCommand() *cobra.Command {
	var (
		httpAddr  string
		pf        progressFlags
		groupSync bool
		units     int
		session   time.Duration
		protect   bool
		aclMode   string
		aclEvery  time.Duration
		spill     bool
	)
	o := &e.overrides
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "Copy the selected topics to the target, exactly once, resumable",
		Long: `mirror creates the selected topics on the target (same partitions, the
source's explicitly set portable configs) and copies every record in order,
partition p to partition p, with key, value, headers and timestamp. Records
and the migration's checkpoints are committed together in transactions on the
target, so a run can be killed at any moment (even with kill -9) and started
again, from any machine, without losing or duplicating a record. The source is
only read.

A target topic that already exists is used only if it is this migration's own
mirror (resume) or it is empty with the same partition count and reuse is
allowed (--allow-reuse); anything else is refused before anything is written.

With --until end it copies up to the source end offsets recorded at start and
exits (for migrations where producers have stopped). Without it, it mirrors
continuously until Ctrl-C or SIGTERM, which commit what was copied before
exiting; new source topics, added partitions and config changes follow.
While mirroring continuously it also syncs consumer group offsets (unless
--group-sync=false): every selected group that consumes on the source and has
no consumers on the target gets its committed offsets translated exactly and
committed on the target every groups.sync_interval (5s), so its application
can move at any time. A group that becomes active on the target while stopped
on the source has switched and is no longer synced; a group active on both
clusters is reported as a warning.

mirror also gives the target the migration's ACL bindings, as kmigrate access
apply would (same principal mapping, rename rule and spill policy; a prefixed
binding that would cover target topics outside the migration is held back and
reported unless acls.allow_spill or --allow-spill): once at start, and, while
mirroring continuously, every --acl-sync-interval, adding bindings added on the
source and removing those removed there. It removes only bindings it created
itself, which it records in the migration's state; bindings created on the
target by anyone else are never removed. A target or migrator that cannot hold
or change bindings is reported as a warning and the data mirror goes on.
--acls off turns this off (docs/acls.md).

The migration's state lives on the target in the topic __kmigrate-<name>,
where <name> is the spec's name or, without one, derived from the two cluster
ids: re-running the same command resumes.

A migration is divided into work units, each copied by its own transactional
producer (kmigrate-<name>-unit-<k>), all at once in this process: a commit in
one unit never stalls the others. A new migration gets one unit per core (2
to 4, fewer when --memory-budget cannot give each 48 MiB); --units N asks for
N. The count is fixed when the state is first written; a migration mirrored
before as one unit stays one unit, or moves to N units with --units N by
fencing its old transactional id once. Another N is refused. Continuous
mirrors of the same migration on several hosts share the units through a
consumer group on the target (docs/scaling.md).`,
		Example: `  # copy everything once, for a stopped source
  kmigrate mirror --source old:9092 --target new:9092 --until end

  # mirror continuously, with metrics, topics renamed with a prefix
  kmigrate mirror -f migration.yaml --topic-prefix old. --http :9464

  # copy only what the consumer groups have not consumed yet
  kmigrate mirror -f migration.yaml --start committed --until end`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := pf.check(); err != nil {
				return err
			}
			if units < 0 {
				return fmt.Errorf("--units %d: use a positive number of work units (or leave it out)", units)
			}
			if cmd.Flags().Changed("session-timeout") && (session < time.Second || session > 30*time.Minute) {
				return usageError{fmt.Errorf("--session-timeout %s: use 1s to 30m (the broker's group.min.session.timeout.ms and group.max.session.timeout.ms bound it too, 6s and 30m by default)", session)}
			}
			if aclMode != "sync" && aclMode != "off" {
				return usageError{fmt.Errorf("--acls %q: use sync (the default) or off", aclMode)}
			}
			if aclEvery < 0 {
				return usageError{fmt.Errorf("--acl-sync-interval %s: use a positive interval", aclEvery)}
			}
			if cmd.Flags().Changed("group-sync") {
				o.GroupSync = &groupSync
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			if spill {
				cfg.ACLs.AllowSpill = true
			}
			migrate.LimitMemory(cfg.Mirror)
			ctx := cmd.Context()
			h, err := migration.Open(ctx, cfg, e.logger)
			if err != nil {
				return err
			}
			defer h.Close()
			r, err := migrate.New(ctx, h, migrate.Options{
				Units: units, SessionTimeout: session, ProtectTarget: protect, NoACLSync: aclMode == "off", ACLSyncInterval: aclEvery,
			})
			if err != nil {
				return err
			}
			if p := r.Problems(); len(p) > 0 {
				return fmt.Errorf("%w; nothing was written:\n%s", migrate.ErrBlocked, "- "+strings.Join(p, "\n- "))
			}
			e.logger.Info("starting mirror", "migration", h.Name(), "state_topic", h.StateTopic(),
				"topics", len(r.Plan().Mappings()), "guarantee", cfg.Mirror.Guarantee, "until", cfg.Mirror.Until)
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			if httpAddr != "" {
				mux := http.NewServeMux()
				httpapi.Register(mux, httpapi.ForRunner(h, r))
				wait := addDashboard(runCtx, mux, h, r, status.Options{Quiet: status.DefaultQuiet, Sample: httpapi.StatusSample})
				defer func() { stop(); wait() }()
				addr, err := e.serve(runCtx, httpAddr, mux)
				if err != nil {
					return err
				}
				e.logger.Info("serving the dashboard on /, /healthz, /readyz, /metrics, /v1/status, /v1/groups and /v1/translate", "addr", addr.String())
			}
			kind := pf.kind(e.stderr)
			done := make(chan struct{})
			go func() {
				defer close(done)
				showProgress(runCtx, e.stderr, kind, e.logger, r.Stats)
			}()
			start := time.Now()
			err = r.Run(ctx)
			if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				// Ctrl-C or SIGTERM while the mirror was still preparing
				// (checks, topic creation): a requested stop, as it is once
				// copying. What was claimed or created is in the state and
				// the next run resumes from it.
				e.logger.Info("stopped before copying began", "migration", h.Name())
				err = nil
			}
			stop()
			<-done
			printSummary(e.stdout, r.Stats(), time.Since(start))
			return err
		},
	}
	e.addClusterFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Until, "until", "", `"end": stop once the source end offsets recorded at start are copied (default: mirror continuously)`)
	f.StringVar(&o.Start, "start", "", "where new partitions start: earliest, latest, committed, or an RFC 3339 timestamp (default earliest)")
	f.StringVar(&o.StartFallback, "start-fallback", "", "with --start committed, where partitions no selected group committed start: earliest or latest")
	f.StringVar(&o.Guarantee, "guarantee", "", "exactly-once (transactions on the target, the default) or at-least-once")
	f.BoolVar(&o.NoTracingHeaders, "no-tracing-headers", false, "do not add kmigrate.src tracing headers to copied records")
	f.StringVar(&o.MemoryBudget, "memory-budget", "", "memory kmigrate may use for records in flight, e.g. 512MiB (default 256MiB)")
	f.StringVar(&o.TopicPrefix, "topic-prefix", "", "prefix for target topic names (default: the source names)")
	f.BoolVar(&o.AllowReuse, "allow-reuse", false, "accept existing empty target topics with the source's partition count")
	f.IntVar(&o.ReplicationFactor, "replication-factor", 0, "replication factor of created topics (default: the target's default)")
	f.BoolVar(&groupSync, "group-sync", true, "while mirroring continuously, keep the target offsets of the selected consumer groups in step with the source (default: the spec's groups.sync, true)")
	f.BoolVar(&protect, "protect-target", false, "deny writes to the target topics to every principal but the migrator until each is promoted (DENY bindings kmigrate marks as its own; needs an authorizer and ALTER on the target cluster; docs/acls.md)")
	f.StringVar(&aclMode, "acls", "sync", "sync: give the target the migration's ACL bindings at start and keep them in step with the source (continuous mirrors every --acl-sync-interval); off: leave ACLs alone (docs/acls.md)")
	f.DurationVar(&aclEvery, "acl-sync-interval", 0, "how often a continuous mirror syncs ACL bindings (default 30s)")
	f.BoolVar(&spill, "allow-spill", false, "with --acls sync, write prefixed and wildcard topic bindings that also cover target topics outside the migration (default: the spec's acls.allow_spill; held back and reported otherwise)")
	f.IntVar(&units, "units", 0, "divide the migration into this many work units, each with its own transactional producer, fixed when first given (default: as the state records; for a new migration one per core, 2 to 4, within the memory budget; docs/scaling.md)")
	f.DurationVar(&session, "session-timeout", 0, "with more than one unit, how long the units group waits for a silent process before its units move to the others (default 45s; docs/scaling.md)")
	f.StringVar(&httpAddr, "http", "", "serve the dashboard, /healthz, /readyz, Prometheus /metrics and /v1/status on this address, e.g. :9464 (all interfaces) or 127.0.0.1:9464")
	pf.add(cmd)
	return cmd
}

// printSummary prints what a run did.
func printSummary(w io.Writer, s mirror.Stats, took time.Duration) {
	rate := float64(s.Records) / max(took.Seconds(), 1e-3)
	fmt.Fprintf(w, "migration %s: copied %d records (%s) in %d transactions in %s (%.0f records/s)\n",
		s.Migration, s.Records, humanBytes(float64(s.Bytes)), s.Transactions, took.Round(time.Millisecond), rate)
	for _, e := range s.Expired {
		fmt.Fprintf(w, "  expired before copying: %s/%d offsets %d-%d (%d offsets) were deleted on the source and are NOT on the target\n",
			e.Topic, e.Partition, e.From, e.Until-1, e.Count)
	}
	for _, p := range s.Partitions {
		if p.Stopped != "" {
			fmt.Fprintf(w, "  stopped: %s/%d at offset %d: %s\n", p.Topic, p.Partition, p.Next, p.Stopped)
		}
	}
	if s.Done {
		fmt.Fprintln(w, "  done: every selected partition is copied up to the end recorded at start")
	}
}
