package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/cutover"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/status"
)

// cutoverFlags are the flags status and promote share.
type cutoverFlags struct {
	quiet  time.Duration
	sample time.Duration
}

func (f *cutoverFlags) add(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.quiet, "quiet-period", status.DefaultQuiet, "how long a source topic must have had no writes for its producers to count as moved to the target")
	cmd.Flags().DurationVar(&f.sample, "sample", 2*time.Second, "interval over which write rates are measured (0 skips rates)")
}

func (f *cutoverFlags) options() (status.Options, error) {
	if f.quiet < 0 || f.sample < 0 {
		return status.Options{}, usageError{errors.New("--quiet-period and --sample must not be negative")}
	}
	return status.Options{Quiet: f.quiet, Sample: f.sample}, nil
}

func (e *env) statusCommand() *cobra.Command {
	var (
		f      cutoverFlags
		output string
		watch  time.Duration
		serve  string
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Where the migration stands: lag, producers, groups, phase and the next step (writes nothing)",
		Long: `status reads the migration's state from the target (so it works from any
machine) and both clusters, and prints:

- per topic: mirroring state (mirroring, caught-up, promoted), lag in records
  and in time per partition, the source write rate (producers still there?)
  and the native write rate on the target (producers switched?);
- per consumer group: its state on each cluster, its translated position,
  and whether it switched to the target;
- the overall phase (sync, producers, consumers, promote, done), the next
  step and what blocks it;
- the history of cutover actions.

A topic's producers count as moved when the source has had no write for
--quiet-period while the target has records written natively. --watch
repeats every interval until Ctrl-C. --output json prints the same as
GET /v1/status of kmigrate mirror --http.

--serve ADDR serves a read-only web dashboard of the migration (phase,
next step and blockers, per topic lag and rates over the last minutes,
groups, the last verify result, the history) until Ctrl-C, with
GET /v1/status, /v1/dashboard and /v1/translate. Without a host in ADDR it
listens on loopback only; set KMIGRATE_HTTP_USER and KMIGRATE_HTTP_PASSWORD
to require a login (docs/dashboard.md). It needs only the target: when the
source cannot be reached from where it runs, the page shows what the
target and the migration's state know and marks lag and source writes as
unknown. So does kmigrate status itself when the source cannot be reached
(its report then says why, and leaves out ACLs, quotas and users).`,
		Example: `  kmigrate status -f migration.yaml
  kmigrate status -f migration.yaml --watch 10s
  kmigrate status --source old:9092 --target new:9092 --output json
  kmigrate status -f migration.yaml --serve :8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			o, err := f.options()
			if err != nil {
				return err
			}
			if watch < 0 {
				return usageError{errors.New("--watch must not be negative")}
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if serve != "" {
				return e.serveStatus(ctx, serve, cfg, o)
			}
			o.Natives = groups.NewNativeCache() // --watch re-reads only what the mirror added
			h, err := migration.Open(ctx, cfg, e.logger)
			var ce *cluster.ConnectError
			if errors.As(err, &ce) && ce.Role == "source" {
				// The source cannot be reached from here: report from
				// the target alone, its figures unknown.
				t, err := status.OpenTarget(ctx, cfg, e.logger)
				if err != nil {
					return err
				}
				defer t.Close()
				return e.repeatStatus(ctx, output, watch, func() (*status.Report, error) { return status.MakeFrom(ctx, t.Clusters(), o) })
			}
			if err != nil {
				return err
			}
			defer h.Close()
			o.Access = true
			return e.repeatStatus(ctx, output, watch, func() (*status.Report, error) { return status.Make(ctx, h, o) })
		},
	}
	e.addClusterFlags(cmd)
	f.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().DurationVar(&watch, "watch", 0, "repeat every interval (e.g. 10s) until Ctrl-C")
	cmd.Flags().StringVar(&serve, "serve", "", "serve the dashboard (read-only) on this address until Ctrl-C, e.g. :8080 (loopback unless a host is given; see docs/dashboard.md)")
	return cmd
}

// repeatStatus prints the report report returns, again every watch (0:
// once) until ctx ends.
func (e *env) repeatStatus(ctx context.Context, output string, watch time.Duration, report func() (*status.Report, error)) error {
	for {
		r, err := report()
		if err != nil {
			return err
		}
		if err := emit(e.stdout, output, r, func(w io.Writer) { printStatus(w, r) }); err != nil {
			return err
		}
		if watch == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watch):
		}
		if output != "json" {
			fmt.Fprintln(e.stdout)
		}
	}
}

func (e *env) promoteCommand() *cobra.Command {
	var (
		f      cutoverFlags
		topics []string
		force  bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "promote",
		Short: "Stop mirroring topics for good: the target becomes where they live",
		Long: `promote ends the mirroring of topics (all of the migration's topics, or
those named with --topic) because nothing writes to them on the source any
more. A running kmigrate mirror stops copying them within seconds, committing
a final checkpoint, and every later command knows they are promoted.

Preconditions, per topic: replication lag zero; the source quiet for
--quiet-period (no writes: its producers moved to the target); every selected
consumer group that reads the topic switched to the target (migrated with
kmigrate groups migrate, or seen active on the target). promote refuses with
the list of unmet preconditions, writing nothing, unless --force, which
promotes anyway and records the override.

When kmigrate gateway processes serve the migration (live in its state),
each topic is switched through them instead: every gateway holds the topic's
writes, the mirror's lag drains to zero, the promotion is recorded and the
gateways send the held writes to the target (docs/gateway.md). Lag and
source writes are then not preconditions.

Rolling back after a promotion means mirroring in the reverse direction
(swap --source and --target): records that came from the old cluster carry
tracing headers naming it and are never copied back.`,
		Example: `  kmigrate promote -f migration.yaml --topic orders
  kmigrate promote -f migration.yaml            # every topic
  kmigrate promote -f migration.yaml --topic orders --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			o, err := f.options()
			if err != nil {
				return err
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			h, err := migration.Open(ctx, cfg, e.logger)
			if err != nil {
				return err
			}
			defer h.Close()
			res, err := cutover.Promote(ctx, h, topics, force, o)
			if err != nil {
				return err
			}
			// Promoted topics take writes now: their write guards go
			// (mirror --protect-target, access protect).
			if rel, err := acls.ReleasePromoted(ctx, h); err != nil {
				e.logger.Warn("promoted, but could not remove the write guards of the promoted topics: run kmigrate access protect", "err", err)
			} else if len(rel.Removed) > 0 {
				res.Released = guardedTopics(rel.Removed)
			}
			if res.Forced {
				e.logger.Warn("promoted with unmet preconditions (--force)", "unmet", strings.Join(res.Unmet, "; "))
			}
			if output == "json" {
				return writeJSON(e.stdout, res)
			}
			printPromote(e.stdout, res)
			return nil
		},
	}
	e.addClusterFlags(cmd)
	f.add(cmd)
	cmd.Flags().StringArrayVar(&topics, "topic", nil, "source topic to promote (repeatable; default: every topic of the migration)")
	cmd.Flags().BoolVar(&force, "force", false, "promote even when preconditions are not met (recorded, with a warning)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// guardedTopics lists the target topics of removed guards, once each.
func guardedTopics(removed []acls.Binding) []string {
	var out []string
	for _, b := range removed {
		if !slices.Contains(out, b.Name) {
			out = append(out, b.Name)
		}
	}
	slices.Sort(out)
	return out
}

func printPromote(w io.Writer, r *cutover.PromoteResult) {
	if len(r.Promoted) > 0 {
		fmt.Fprintf(w, "Promoted: %s\n", strings.Join(r.Promoted, ", "))
	}
	if len(r.Already) > 0 {
		fmt.Fprintf(w, "Already promoted: %s\n", strings.Join(r.Already, ", "))
	}
	if len(r.Gateways) > 0 {
		fmt.Fprintf(w, "Switched through gateways %s:\n", strings.Join(r.Gateways, ", "))
		for _, t := range r.Promoted {
			fmt.Fprintf(w, "- %s: writes paused %dms\n", t, r.PauseMillis[t])
		}
	}
	if len(r.Released) > 0 {
		fmt.Fprintf(w, "Write guards removed: %s\n", strings.Join(r.Released, ", "))
	}
	if r.Forced {
		fmt.Fprintln(w, "WARNING: promoted with unmet preconditions (--force):")
		for _, u := range r.Unmet {
			fmt.Fprintf(w, "- %s\n", u)
		}
	}
	fmt.Fprintf(w, "Phase: %s\n", r.Phase)
}

func printStatus(w io.Writer, r *status.Report) {
	mirror := "not running"
	if r.Mirror.Running {
		mirror = "running"
		if r.Mirror.Host != "" {
			mirror += " on " + r.Mirror.Host
		}
	}
	fmt.Fprintf(w, "Migration %s at %s: phase %s, mirror %s\n", r.Migration, r.Time.Format(time.RFC3339), r.Phase, mirror)
	if r.SourceUnknown != "" {
		fmt.Fprintf(w, "The source was not read (%s): lag, source writes and the groups' source side are unknown.\n", r.SourceUnknown)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tTARGET\tSTATE\tLAG\tLAG TIME\tSOURCE WRITES/S\tTARGET NATIVE/S\tPRODUCERS")
	for _, t := range r.Topics {
		lag, lagTime, rate := "unknown", "unknown", "unknown"
		if t.Lag >= 0 {
			lag, lagTime, rate = fmt.Sprint(t.Lag), fmt.Sprintf("%.1fs", t.LagSeconds), fmt.Sprintf("%.1f", t.SourceWriteRate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\n", t.Source, t.Target, t.State, lag, lagTime, rate, t.TargetNativeRate, t.Producers)
	}
	tw.Flush()
	for _, t := range r.Topics {
		if t.Lag <= 0 {
			continue
		}
		for _, p := range t.Partitions {
			if p.Lag > 0 {
				fmt.Fprintf(w, "  %s/%d: next %d of %d, lag %d (%.1fs)\n", t.Source, p.Partition, p.Next, p.SourceEnd, p.Lag, p.LagSeconds)
			}
		}
	}
	printMembers(w, r.Mirror)
	if len(r.Groups) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tSOURCE\tTARGET\tSWITCHED\tLAG")
		for _, g := range r.Groups {
			sw := "no"
			if g.Switched {
				sw = "yes (" + g.SwitchedHow + ")"
			}
			lag := "unknown"
			if g.Lag >= 0 {
				lag = fmt.Sprint(g.Lag)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Group, side(g.Source), side(g.Target), sw, lag)
		}
		tw.Flush()
	}
	if a := r.Access; a != nil {
		fmt.Fprintf(w, "\nACLs, quotas and users: %s\n", a.Summary())
		if a.Users != nil && len(a.Users.Missing) > 0 {
			var names []string
			for _, c := range a.Users.Missing {
				names = append(names, c.String())
			}
			fmt.Fprintf(w, "Users missing on the target: %s\n", strings.Join(names, ", "))
		}
	}
	fmt.Fprintf(w, "\nNext: %s\n", r.Next)
	for _, b := range r.Blockers {
		fmt.Fprintf(w, "- %s\n", b)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if len(r.History) > 0 {
		fmt.Fprintln(w, "\nHistory:")
		for _, ev := range r.History {
			fmt.Fprintf(w, "  %s  %s  %s\n", ev.Time.Format(time.RFC3339), ev.Action, ev.Detail)
		}
	}
}

// printMembers lists the processes of a migration divided into work
// units and the units each copies (nothing for one unit).
func printMembers(w io.Writer, m status.Mirror) {
	if m.Units < 2 {
		return
	}
	fmt.Fprintf(w, "\nWork units: %d\n", m.Units)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTATE\tUNITS\tLAG\tCOPIED/S\tLAST SEEN")
	for _, mb := range m.Members {
		st := "not running"
		if mb.Running {
			st = "running"
		}
		lag := "unknown"
		if mb.Lag >= 0 {
			lag = fmt.Sprint(mb.Lag)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%s\n", mb.Owner, st, strings.Trim(fmt.Sprint(mb.Units), "[]"), lag, mb.CopyRate, mb.LastSeen.Format(time.RFC3339))
	}
	tw.Flush()
	for _, u := range m.UnitList {
		if u.Owner == "" {
			fmt.Fprintf(w, "  unit %d (%d partitions): never started\n", u.Unit, u.Partitions)
		}
	}
}
