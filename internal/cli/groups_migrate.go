package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migration"
)

// moveReport is what `groups migrate` and `groups rollback` print with
// --output json.
type moveReport struct {
	Migration string `json:"migration"`
	// Direction is "source-to-target" (migrate) or "target-to-source"
	// (rollback).
	Direction string                `json:"direction"`
	DryRun    bool                  `json:"dry_run"`
	Groups    []*groups.GroupResult `json:"groups"`
	// OK is true when every group was moved (or, dry, could be).
	OK bool `json:"ok"`
}

// moveFlags are the flags migrate and rollback share.
type moveFlags struct {
	groups []string
	all    bool
	wait   time.Duration
	dryRun bool
	force  bool
	output string
	pf     progressFlags
}

func (f *moveFlags) add(cmd *cobra.Command, waitFor string) {
	cmd.Flags().StringArrayVar(&f.groups, "group", nil, "consumer group to move (repeatable)")
	cmd.Flags().BoolVar(&f.all, "all", false, "move every group that the group selection (--groups or the spec's groups section) selects")
	cmd.Flags().DurationVar(&f.wait, "wait", 0, "wait up to this long for the group to stop on the "+waitFor+" (e.g. 2m); 0 checks once")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "translate and print, write nothing")
	cmd.Flags().BoolVar(&f.force, "force", false, "commit even when the group has consumed further than the translation on the cluster it moves to (it will re-read records)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	f.pf.add(cmd)
}

func (f *moveFlags) check() error {
	if err := checkOutput(f.output); err != nil {
		return err
	}
	if err := f.pf.check(); err != nil {
		return err
	}
	switch {
	case len(f.groups) == 0 && !f.all:
		return usageError{errors.New("name the groups to move with --group G (repeatable), or pass --all for every selected group")}
	case len(f.groups) > 0 && f.all:
		return usageError{errors.New("--group and --all are mutually exclusive")}
	case f.wait < 0:
		return usageError{errors.New("--wait must not be negative")}
	}
	for _, g := range f.groups {
		if strings.TrimSpace(g) == "" {
			return usageError{errors.New("--group: a group name must not be empty")}
		}
	}
	return nil
}

func (e *env) groupsMigrateCommand() *cobra.Command {
	var (
		f           moveFlags
		mirrorWait  time.Duration
		toTimestamp string
		natives     string
	)
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move consumer groups' committed offsets to the target, exactly",
		Long: `migrate moves each group's committed offsets from the source to the target.
For every committed offset on a mirrored topic it finds, from the migration's
offset map, the target offset at which a consumer first receives the copy of
the record the group would have read next on the source, reads that record on
the target to check it, and commits the offset on the target. The application
then starts on the target and resumes at exactly the next record: nothing is
read twice and nothing is skipped, on compacted and transactional topics too.

The group must be inactive on the source (its application stopped; --wait
polls until it is) and have no consumers on the target. When the mirror has
not copied up to a committed offset yet, migrate waits for it (--mirror-wait,
the spec's groups.mirror_wait, default 2m). Committed offsets on topics the
migration does not mirror are listed and left alone. Only offsets are written;
running it again changes nothing. A group that has already consumed further on
the target is refused unless --force.

Records that producers wrote directly to the target while the mirror still
copied older source records lie between copies. Those before the last copy the
group already consumed on the source cannot be delivered by any position that
does not re-read that copy: migrate counts them, names their offsets and
refuses (exit 1) unless you choose with --unreachable-natives: skip commits the
exact position and the group never reads them; reread starts the group at the
first of them, so it reads them all and reads again the copies after it (both
counted). Moving producers only once kmigrate status says the mirror has no lag
and the source is quiet avoids them.

--to-timestamp replaces the exact translation with the familiar reset to the
first target record at or after a time. It is approximate: around that time
the group may re-read or skip records.

Exit code 0 when every group was moved (or, with --dry-run, could be), 1
otherwise, 2 for a wrong command line.`,
		Example: `  kmigrate groups migrate -f migration.yaml --group billing --dry-run
  kmigrate groups migrate -f migration.yaml --group billing --wait 2m
  kmigrate groups migrate -f migration.yaml --all --output json
  kmigrate groups migrate -f migration.yaml --group reports --to-timestamp 2026-11-21T09:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			choice, err := groups.ParseNativeChoice(natives)
			if err != nil {
				return usageError{fmt.Errorf("--unreachable-natives: %w", err)}
			}
			opts := groups.MigrateOptions{WaitInactive: f.wait, DryRun: f.dryRun, AllowRewind: f.force, Natives: choice}
			if toTimestamp != "" {
				ts, err := parseTime(toTimestamp)
				if err != nil {
					return usageError{fmt.Errorf("--to-timestamp: %w", err)}
				}
				opts.ToTimestamp = ts
			}
			if cmd.Flags().Changed("mirror-wait") && mirrorWait < 0 {
				return usageError{errors.New("--mirror-wait must not be negative")}
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			opts.MirrorWait = cfg.Groups.MirrorWait
			if cmd.Flags().Changed("mirror-wait") {
				opts.MirrorWait = mirrorWait
			}
			// One read of the state for all the groups (--all).
			opts.Cache = &groups.StateCache{}
			return e.move(cmd.Context(), cfg, f, "source-to-target", func(ctx context.Context, h *migration.Handle, g string) (*groups.GroupResult, error) {
				return groups.Migrate(ctx, h, g, opts)
			})
		},
	}
	e.addClusterFlags(cmd)
	f.add(cmd, "source")
	cmd.Flags().DurationVar(&mirrorWait, "mirror-wait", 0, "wait up to this long for the mirror to copy up to the groups' offsets (default: the spec's groups.mirror_wait, or 2m)")
	cmd.Flags().StringVar(&natives, "unreachable-natives", string(groups.NativesRefuse), "records written natively on the target before copies the group already consumed: refuse (commit nothing), skip (commit the exact position; the group never reads them) or reread (start at the first of them; the group re-reads the copies after it)")
	cmd.Flags().StringVar(&toTimestamp, "to-timestamp", "", "approximate fallback: reset to the first target record at or after this time (RFC 3339, or Unix milliseconds)")
	return cmd
}

func (e *env) groupsRollbackCommand() *cobra.Command {
	var f moveFlags
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Move consumer groups back to the source: translate their target offsets to source offsets",
		Long: `rollback is migrate in reverse, for falling back to the source cluster. For
every offset the group committed on a mirrored target topic it finds the
source offset of the first record the group has not consumed yet and commits
it on the source. It is the only kmigrate command that writes to the source,
and it writes only the group's offsets.

The group must be inactive on the target (its application stopped; --wait
polls until it is) and have no consumers on the source. Records that producers
wrote directly to the target after the group's position have no copy on the
source: rollback counts them and reports them per partition, since the group
will not see them after moving back.

Exit code 0 when every group was moved back (or, with --dry-run, could be), 1
otherwise, 2 for a wrong command line.`,
		Example: `  kmigrate groups rollback -f migration.yaml --group billing --dry-run
  kmigrate groups rollback -f migration.yaml --group billing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			opts := groups.RollbackOptions{WaitInactive: f.wait, DryRun: f.dryRun, AllowRewind: f.force}
			return e.move(cmd.Context(), cfg, f, "target-to-source", func(ctx context.Context, h *migration.Handle, g string) (*groups.GroupResult, error) {
				return groups.Rollback(ctx, h, g, opts)
			})
		},
	}
	e.addClusterFlags(cmd)
	f.add(cmd, "target")
	return cmd
}

// move opens the migration and moves each group with fn, printing the
// results. --all moves the groups of the cluster they move from that the
// group selection selects.
func (e *env) move(ctx context.Context, cfg *config.Config, f moveFlags, direction string, fn func(context.Context, *migration.Handle, string) (*groups.GroupResult, error)) error {
	h, err := migration.Open(ctx, cfg, e.logger)
	if err != nil {
		return err
	}
	defer h.Close()
	names := f.groups
	if f.all {
		adm := h.SourceAdmin()
		if direction == "target-to-source" {
			adm = h.TargetAdmin()
		}
		if names, err = groups.Selected(ctx, adm, cfg.Groups.Selection); err != nil {
			return err
		}
	}
	rep := &moveReport{Migration: h.Name(), Direction: direction, DryRun: f.dryRun, Groups: []*groups.GroupResult{}, OK: true}
	kind := f.pf.kind(e.stderr)
	if len(names) < 2 {
		kind = progressNone // one group: its result is the progress
	}
	progress := e.newCounter(kind, "groups", int64(len(names)))
	for _, g := range names {
		res, err := fn(ctx, h, g)
		progress.Add(1)
		if res == nil {
			progress.Finish()
			return err
		}
		// With --all, a selected group with nothing on a mirrored topic is
		// reported, not a failure; a group named with --group is.
		if err != nil && !(f.all && errors.Is(res.Err, groups.ErrNoOffsets)) {
			rep.OK = false
		}
		rep.Groups = append(rep.Groups, res)
	}
	progress.Finish()
	if f.output == "json" {
		if err := writeJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		printMoves(e.stdout, rep)
	}
	if !rep.OK {
		return silentExit{exitError}
	}
	return nil
}

// parseTime reads an RFC 3339 time or Unix milliseconds.
func parseTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (2026-11-21T09:00:00Z) or Unix milliseconds", s)
	}
	return ts, nil
}

func printMoves(w io.Writer, r *moveReport) {
	verb, from, to := "Migrating", "SOURCE", "TARGET"
	if r.Direction == "target-to-source" {
		verb, from, to = "Rolling back", "TARGET", "SOURCE"
	}
	dry := ""
	if r.DryRun {
		dry = " (dry run: nothing is written)"
	}
	fmt.Fprintf(w, "%s consumer groups of migration %s%s\n", verb, r.Migration, dry)
	if len(r.Groups) == 0 {
		fmt.Fprintln(w, "\nNo group matches the group selection.")
		return
	}
	for _, g := range r.Groups {
		fmt.Fprintf(w, "\nGroup %s (%s): %s\n", g.Group, g.Method, groupOutcome(g))
		if len(g.Partitions) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "  TOPIC\tPARTITION\t%s OFFSET\t%s TOPIC\t%s OFFSET\tKIND\tWAS\tRECORD\n", from, to, to)
			for _, p := range g.Partitions {
				was := "-"
				if p.Previous >= 0 {
					was = strconv.FormatInt(p.Previous, 10)
				}
				to := strconv.FormatInt(p.To, 10)
				if p.To < 0 {
					to = "-"
				}
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", p.Topic, p.Partition, p.From, p.ToTopic, to, p.Kind, was, recordText(p, r.Direction))
			}
			tw.Flush()
		}
		for _, u := range g.Unmirrored {
			fmt.Fprintf(w, "  not mirrored, left alone: %s/%d at offset %d\n", u.Topic, u.Partition, u.Offset)
		}
		for _, warn := range g.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
		switch {
		case errors.Is(g.Err, groups.ErrNoOffsets):
			fmt.Fprintf(w, "  %s\n", g.Err)
		case g.Err != nil:
			fmt.Fprintf(w, "  error: %s\n", g.Err)
		}
	}
}

func groupOutcome(g *groups.GroupResult) string {
	switch {
	case errors.Is(g.Err, groups.ErrNoOffsets):
		return "nothing to move"
	case g.Err != nil:
		return "NOT MOVED"
	case g.DryRun && g.Committed == 0:
		return "already in place, nothing to write"
	case g.DryRun:
		return fmt.Sprintf("would commit %d partitions", g.Committed)
	case g.Committed == 0:
		return "already in place, nothing written"
	}
	return fmt.Sprintf("committed %d partitions", g.Committed)
}

func recordText(p groups.PartitionResult, direction string) string {
	var parts []string
	switch r := p.Record; {
	case r == nil && p.Kind == groups.NotYetMirrored:
		parts = append(parts, "not copied yet")
	case r == nil:
		parts = append(parts, "end of the data: the next record written")
	default:
		s := fmt.Sprintf("offset %d", r.Offset)
		if p.Native > 0 && direction == "source-to-target" {
			s = fmt.Sprintf("then offset %d", r.Offset)
		}
		if r.Origin >= 0 {
			s += fmt.Sprintf(" (copy of source offset %d)", r.Origin)
		}
		if r.Key != "" {
			s += " key " + r.Key
		}
		s += " at " + r.Timestamp.Format(time.RFC3339Nano)
		parts = append(parts, s)
	}
	if p.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d expired offsets skipped", p.Skipped))
	}
	switch {
	case p.Native > 0 && direction == "target-to-source":
		parts = append(parts, fmt.Sprintf("%d native target records after the group's position are not on the source", p.Native))
	case p.Native > 0:
		parts = append(parts, fmt.Sprintf("%d native target records before it, read first", p.Native))
	}
	switch {
	case p.Unreachable > 0 && p.Reread > 0:
		parts = append(parts, fmt.Sprintf("%d unreachable native records (%s) read by starting at the first, re-reading %d copies", p.Unreachable, groups.RangesText(p.UnreachableNatives, 5), p.Reread))
	case p.Unreachable > 0:
		parts = append(parts, fmt.Sprintf("%d native records (%s) lie before copies the group consumed: not delivered from this offset", p.Unreachable, groups.RangesText(p.UnreachableNatives, 5)))
	}
	return strings.Join(parts, "; ")
}
