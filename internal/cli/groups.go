package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

func (e *env) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "Inspect and migrate consumer groups",
		Long: `groups works on the consumer groups selected with --groups (or the spec's
groups section): their committed offsets on the source, translated exactly to
the target from the migration's offset map.`,
		Example: `  kmigrate groups list --source old:9092 --target new:9092
  kmigrate groups list -f migration.yaml --groups 'billing-.*' --output json
  kmigrate groups migrate -f migration.yaml --group billing --wait 2m
  kmigrate groups rollback -f migration.yaml --group billing --dry-run`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(e.groupsListCommand(), e.groupsMigrateCommand(), e.groupsRollbackCommand())
	return cmd
}

// groupsReport is what `groups list --output json` prints.
type groupsReport struct {
	// Migration is the migration's name; HasState says whether its state
	// topic exists on the target.
	Migration string             `json:"migration"`
	HasState  bool               `json:"has_state"`
	Groups    []groups.GroupInfo `json:"groups"`
}

func (e *env) groupsListCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the selected groups: state on both clusters, topics, lag, and whether each can be migrated now (writes nothing)",
		Long: `list prints, for each consumer group of the source that the group selection
selects: its state and member count on the source and, under the same name, on
the target ("Dead" when a cluster does not know it); the topics it committed
offsets for on the source and its lag there; and whether its offsets can be
migrated now, or why not.

A group can be migrated when it has no members on either cluster (its
application is stopped), the migration (the spec's name or, without one,
derived from the two cluster ids) has state on the target, at least one of its
committed topics is mirrored, and the mirror has copied up to each committed
offset on the mirrored topics. Offsets are translated from the migration's
offset map; committed offsets on topics the migration does not mirror are
listed and not migrated. Records written natively on the target before copies
a group already consumed (producers that moved while the mirror lagged) are
counted and named: the translated position never delivers them, and groups
migrate refuses the group until --unreachable-natives says skip or reread.

It only reads both clusters. The exit code is 0 whatever the verdicts, 1 when
a cluster cannot be read, 2 for a wrong command line or configuration.`,
		Example: `  kmigrate groups list --source old:9092 --target new:9092
  kmigrate groups list -f migration.yaml --groups 'billing-.*'
  kmigrate groups list -f migration.yaml --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			rep, err := listGroups(cmd.Context(), cfg, e.logger)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, rep)
			}
			printGroups(e.stdout, rep)
			return nil
		},
	}
	e.addClusterFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// listGroups opens the migration (clusters, name, state) and lists the
// selected groups.
func listGroups(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*groupsReport, error) {
	h, err := migration.Open(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	rep := &groupsReport{Migration: h.Name(), HasState: h.Meta() != nil}
	if rep.Groups, err = groups.List(ctx, h.SourceAdmin(), h.TargetAdmin(), h.Opened(), cfg.Groups.Selection); err != nil {
		return nil, err
	}
	if rep.Groups == nil {
		rep.Groups = []groups.GroupInfo{}
	}
	finder := groups.NewUnreachableFinder(h.Target(), h.SourceID(), h.Opened(), nil)
	for i := range rep.Groups {
		if err := finder.Fill(ctx, &rep.Groups[i]); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			g := &rep.Groups[i]
			g.Reasons = append(g.Reasons, fmt.Sprintf("cannot look for records written natively on the target before copies it consumed: %v", err))
			g.Migratable = false
		}
	}
	return rep, nil
}

func printGroups(w io.Writer, r *groupsReport) {
	st := "no state yet"
	if r.HasState {
		st = "state on the target"
	}
	fmt.Fprintf(w, "Migration %s (%s, %s)\n\n", r.Migration, st, state.TopicName(r.Migration))
	if len(r.Groups) == 0 {
		fmt.Fprintln(w, "No source group matches the group selection.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSOURCE\tTARGET\tTOPICS\tLAG\tMIGRATABLE\tREASONS")
	for _, g := range r.Groups {
		var ts []string
		for _, t := range g.Topics {
			switch {
			case !t.Mirrored:
				ts = append(ts, t.Topic+" (not mirrored)")
			case t.Target != t.Topic:
				ts = append(ts, t.Topic+"->"+t.Target)
			default:
				ts = append(ts, t.Topic)
			}
		}
		topics := strings.Join(ts, ",")
		if topics == "" {
			topics = "-"
		}
		reasons := "-"
		if len(g.Reasons) > 0 {
			reasons = strings.Join(g.Reasons, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", g.Group, side(g.Source), side(g.Target), topics, g.Lag, yesNo(g.Migratable), reasons)
	}
	tw.Flush()
}

func side(s groups.Side) string {
	if s.Err != "" {
		return "unknown (" + s.Err + ")"
	}
	return fmt.Sprintf("%s/%d", s.State, s.Members)
}
