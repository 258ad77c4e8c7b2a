package cli

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/plan"
)

func (e *env) planCommand() *cobra.Command {
	var (
		output string
		pf     progressFlags
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what the migration would do, and what blocks it (writes nothing)",
		Long: `plan reads both clusters and the migration's state and prints, without
writing anything anywhere:

- each selected topic, the rule that selected it, and the target action:
  create, resume (this migration's own mirror), reuse (an empty topic, with
  --allow-reuse), or conflict and why; partitions; the configs the target
  topic gets and those dropped, with the reason;
- per partition the source range to copy with the start position applied
  (the checkpoint of a resumed partition), ranges that expired from the
  source (below its log start) with their record counts, and totals in
  records and estimated bytes;
- the selected consumer groups with their state on both clusters, committed
  offsets, and whether each can be migrated now;
- blocking problems (target topic conflicts, missing permissions, no
  transactions for exactly-once, a group active on the target) and warnings.

--output json prints the same as a stable, versioned schema
(docs/plan.md). Exit code 0 when the migration can run, 1 when something
blocks it (the problems are listed) or a cluster cannot be read, 2 for a
wrong command line or configuration.`,
		Example: `  kmigrate plan --source old:9092 --target new:9092
  kmigrate plan -f migration.yaml --start committed
  kmigrate plan -f migration.yaml --output json > plan.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := pf.check(); err != nil {
				return err
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			h, err := migration.Open(cmd.Context(), cfg, e.logger)
			if err != nil {
				return err
			}
			defer h.Close()
			var r *plan.Report
			var (
				mu   sync.Mutex
				last plan.Progress
			)
			look := func() tally {
				mu.Lock()
				defer mu.Unlock()
				return tally{done: last.Done, total: last.Total, detail: last.Step}
			}
			o := plan.Options{Progress: func(p plan.Progress) { mu.Lock(); last = p; mu.Unlock() }}
			err = e.track(cmd.Context(), pf.kind(e.stderr), "planning", "steps", look, func() (err error) {
				r, err = plan.MakeWith(cmd.Context(), h, o)
				return err
			})
			if err != nil {
				return err
			}
			if err := emit(e.stdout, output, r, func(w io.Writer) { printPlan(w, r) }); err != nil {
				return err
			}
			if !r.CanRun {
				return silentExit{exitError}
			}
			return nil
		},
	}
	e.addClusterFlags(cmd)
	f := cmd.Flags()
	o := &e.overrides
	f.StringVar(&o.Until, "until", "", `"end" for a bounded copy (default: mirror continuously)`)
	f.StringVar(&o.Start, "start", "", "where new partitions start: earliest, latest, committed, or an RFC 3339 timestamp (default earliest)")
	f.StringVar(&o.StartFallback, "start-fallback", "", "with --start committed, where partitions no selected group committed start: earliest or latest")
	f.StringVar(&o.Guarantee, "guarantee", "", "exactly-once (the default) or at-least-once")
	f.StringVar(&o.TopicPrefix, "topic-prefix", "", "prefix for target topic names (default: the source names)")
	f.BoolVar(&o.AllowReuse, "allow-reuse", false, "accept existing empty target topics with the source's partition count")
	f.IntVar(&o.ReplicationFactor, "replication-factor", 0, "replication factor of created topics (default: the target's default)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	pf.add(cmd)
	return cmd
}

func printPlan(w io.Writer, r *plan.Report) {
	st := "first run"
	if r.State == "found" {
		st = "resuming from its state on the target"
	}
	fmt.Fprintf(w, "Migration %s (%s): source %s (%s) -> target %s (%s)\n", r.Migration, st,
		r.Source.ClusterID, plural(r.Source.Brokers, "broker"), r.Target.ClusterID, plural(r.Target.Brokers, "broker"))
	s := r.Settings
	fmt.Fprintf(w, "Start %s, until %s, %s, tracing headers %s\n\n", s.Start, untilText(s.Until), s.Guarantee, onOff(s.TracingHeaders))

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tTARGET\tSELECTED BY\tACTION\tPARTITIONS\tRECORDS\tBYTES\tEXPIRED")
	for _, t := range r.Topics {
		action := string(t.Action)
		if t.PartitionsToAdd > 0 {
			action += fmt.Sprintf(" (+%d partitions)", t.PartitionsToAdd)
		}
		if t.Promoted {
			action = "promoted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\n", t.Source, t.Target, t.SelectedBy, action, t.Partitions, t.Records, bytesText(t.Bytes), t.ExpiredRecords)
	}
	tw.Flush()
	fmt.Fprintf(w, "Total: %s, %s, %s, %s\n", plural(r.Totals.Topics, "topic"), plural(r.Totals.Partitions, "partition"),
		plural(int(r.Totals.Records), "record"), bytesText(r.Totals.Bytes))

	for _, t := range r.Topics {
		fmt.Fprintf(w, "\n%s -> %s: %s", t.Source, t.Target, t.Action)
		if t.Reason != "" {
			fmt.Fprintf(w, ": %s", t.Reason)
		}
		fmt.Fprintln(w)
		if len(t.Configs) > 0 {
			keys := make([]string, 0, len(t.Configs))
			for k, v := range t.Configs {
				keys = append(keys, k+"="+v)
			}
			slices.Sort(keys)
			fmt.Fprintf(w, "  configs: %s\n", strings.Join(keys, ", "))
		}
		for _, d := range t.Dropped {
			fmt.Fprintf(w, "  dropped config %s: %s\n", d.Key, d.Reason)
		}
		for _, warn := range t.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
		if len(t.Ranges) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  PARTITION\tLOG START\tEND\tFROM\tSTART RULE\tRECORDS\tBYTES\tEXPIRED")
		for _, rg := range t.Ranges {
			exp := "-"
			if e := rg.Expired; e != nil {
				exp = fmt.Sprintf("%d..%d (%d records)", e.From, e.Until-1, e.Records)
			}
			fmt.Fprintf(tw, "  %d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", rg.Partition, rg.LogStart, rg.End, rg.From, rg.StartRule, rg.Records, bytesText(rg.Bytes), exp)
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	if len(r.Groups) == 0 {
		fmt.Fprintln(w, "Groups: no source group matches the group selection.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tSOURCE\tTARGET\tCOMMITTED\tLAG\tMIGRATABLE\tREASONS")
		for _, g := range r.Groups {
			var committed []string
			for _, t := range g.Topics {
				for _, p := range t.Partitions {
					committed = append(committed, fmt.Sprintf("%s/%d@%d", t.Topic, p.Partition, p.Committed))
				}
			}
			reasons := "-"
			if len(g.Reasons) > 0 {
				reasons = strings.Join(g.Reasons, "; ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", g.Group, side(g.Source), side(g.Target), strings.Join(committed, ","), g.Lag, yesNo(g.Migratable), reasons)
		}
		tw.Flush()
	}
	if a := r.Access; a != nil && a.Error == "" {
		fmt.Fprintln(w, "\nWhat kmigrate access apply would do:")
		printAccess(w, &accessReport{Action: "plan", InSync: a.InSync, ACLs: a.ACLs, Quotas: a.Quotas, Users: a.Users})
	}

	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "\nwarning: %s", warn)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w)
	}
	if r.CanRun {
		fmt.Fprintln(w, "\nThe migration can run: nothing blocks it.")
		return
	}
	fmt.Fprintf(w, "\nBLOCKED by %s; nothing was written:\n", plural(len(r.Problems), "problem"))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "- %s\n", p)
	}
}

func untilText(u string) string {
	if u == "" || u == "never" {
		return "never (continuous)"
	}
	return u
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// bytesText prints an estimate in binary units; -1 is unknown.
func bytesText(b int64) string {
	switch {
	case b < 0:
		return "unknown"
	case b < 1<<10:
		return strconv.FormatInt(b, 10) + " B"
	case b < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	case b < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}
