package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/verify"
)

func (e *env) verifyCommand() *cobra.Command {
	var (
		output   string
		sample   int
		parallel int
		pf       progressFlags
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove record by record that the target holds the source's records exactly once (records only a summary of the result)",
		Long: `verify compares every mirrored source partition with its copy on the target,
record by record, and checks where each migrated consumer group will resume.

It reads the migration's state once, at the start: what the mirror had
checkpointed then is verified, what it copies later is reported as not yet
verified. For each partition it reports the source range verified, the
counts (source records, copies, native target records), and every problem by
source and target offset:

- gap: a source record with no copy (with the target offset the offset map
  gives it, and whether that was deleted on the target);
- duplicate: a source record copied twice (both target offsets);
- out-of-order: a copy after the copy of a later source record;
- mismatch: a copy whose key, value, headers (kmigrate's tracing headers
  aside) or timestamp differ;
- map-mismatch: a copy that is not where the offset map says, which group
  translations rely on;
- unexpected: a copy of a source offset that holds no committed record.

It also prints an order-sensitive SHA-256 digest of each partition on both
sides. Ranges that expired on the source before the mirror reached them are
reported, not counted as loss; so are copies of records the source deleted
or compacted since, and copies compaction removed from a compacted target
(a later record has the key). For each selected consumer group with offsets
on the target it shows the group's target offset next to the translation of
its source offset: equal, or past it, is fine; before it is a failure (the
group would re-read).

The default is a full check, streaming both clusters (--parallel partitions
at once, bounded memory). --sample N checks N evenly spaced records per
partition and the ends instead: fast, but it cannot see every duplicate or
reordering.

verify writes one thing: a summary of its result (counts, OK or not, when)
to the migration's state on the target, which the dashboard shows.

Exit code 0 when everything matches, 1 when something does not (the report
is printed first) or a cluster cannot be read, 2 for a wrong command line or
configuration.`,
		Example: `  kmigrate verify --source old:9092 --target new:9092
  kmigrate verify -f migration.yaml --sample 1000
  kmigrate verify -f migration.yaml --topics 'orders\..*' --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if sample < 0 {
				return usageError{errors.New("--sample must be 0 (a full check) or a positive number of records per partition")}
			}
			if parallel < 1 {
				return usageError{errors.New("--parallel must be at least 1")}
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
			if h.Meta() == nil {
				return fmt.Errorf("migration %s has no state on the target (%s): nothing was mirrored, nothing to verify", h.Name(), h.StateTopic())
			}
			v, err := verify.New(cmd.Context(), h, verify.Options{Sample: sample, Parallel: parallel})
			if err != nil {
				return err
			}
			var rep *verify.Report
			look := func() tally {
				p := v.Progress()
				return tally{done: p.PartitionsDone, total: p.Partitions, detail: fmt.Sprintf("%d source records read", p.SourceRecords)}
			}
			err = e.track(cmd.Context(), pf.kind(e.stderr), "verifying", "partitions", look, func() (err error) {
				rep, err = v.Run(cmd.Context())
				return err
			})
			if err != nil {
				return err
			}
			e.recordVerified(cmd.Context(), h, rep)
			if err := emit(e.stdout, output, rep, func(w io.Writer) { printVerify(w, rep) }); err != nil {
				return err
			}
			if !rep.OK {
				return silentExit{exitError}
			}
			return nil
		},
	}
	e.addClusterFlags(cmd)
	f := cmd.Flags()
	f.IntVar(&sample, "sample", 0, "check this many evenly spaced records per partition instead of all (0: a full check)")
	f.IntVar(&parallel, "parallel", verify.DefaultParallel, "partitions verified at once")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	pf.add(cmd)
	return cmd
}

func printVerify(w io.Writer, r *verify.Report) {
	mode := "full check"
	if r.Mode == verify.ModeSample {
		mode = fmt.Sprintf("sample of %d records per partition", r.Sample)
	}
	fmt.Fprintf(w, "Verifying migration %s: %s, tracing headers %s, %s; state read at %s\n\n",
		r.Migration, mode, onOff(r.TracingHeaders), r.Guarantee, r.Snapshot.Format(time.RFC3339))
	if len(r.Partitions) == 0 {
		fmt.Fprintln(w, "No mirrored partition matches the topic selection.")
	} else {
		printVerifyPartitions(w, r)
	}
	printVerifyGroups(w, r.Groups)
	if r.Access != nil {
		fmt.Fprintf(w, "\nACLs, quotas and users: %s\n", r.Access.Summary())
	}
	fmt.Fprintln(w)
	t := r.Totals
	if r.OK {
		fmt.Fprintf(w, "OK: %d of %d source records verified in %s, every copy matches", t.Matched, t.SourceRecords, plural(t.Partitions, "partition"))
		if r.Mode == verify.ModeSample {
			fmt.Fprintf(w, " (%d sampled)", t.SampledRecords)
		}
		fmt.Fprintf(w, "; %.2fs.\n", r.Seconds)
		return
	}
	var what []string
	if t.Problems > 0 {
		what = append(what, fmt.Sprintf("%s in %s", plural(int(t.Problems), "problem"), plural(t.Failed, "partition")))
	}
	if t.Errors > 0 {
		what = append(what, fmt.Sprintf("%s not verified (errors)", plural(t.Errors, "partition")))
	}
	if t.GroupsFailed > 0 {
		what = append(what, fmt.Sprintf("%s not where they should resume", plural(t.GroupsFailed, "group")))
	}
	fmt.Fprintf(w, "FAILED: %s.\n", strings.Join(what, ", "))
}

func printVerifyPartitions(w io.Writer, r *verify.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	sampled := r.Mode == verify.ModeSample
	head := "TOPIC\tPARTITION\tTARGET\tSOURCE RANGE\tRECORDS\tCOPIES\tNATIVE\tGAPS\tDUPS\tORDER\tMISMATCH\tMAP\tDIGEST\tRESULT"
	if sampled {
		head = "TOPIC\tPARTITION\tTARGET\tSOURCE RANGE\tRECORDS\tCOPIES\tSAMPLED\tGAPS\tDUPS\tORDER\tMISMATCH\tMAP\tRESULT"
	}
	fmt.Fprintln(tw, head)
	for _, p := range r.Partitions {
		c := p.Counts
		if p.Status == verify.StatusNotMirrored || p.Status == verify.StatusError && p.Digest == nil && c == (verify.Counts{}) {
			fmt.Fprintf(tw, "%s\t%d\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", p.Topic, p.Partition, p.TargetTopic, p.Status)
			continue
		}
		counts := fmt.Sprintf("%d\t%d\t%d\t%d\t%d\t%d\t%d", c.SourceRecords, c.Copies, c.Native, c.Gaps, c.Duplicates, c.OutOfOrder, c.Mismatches)
		if sampled {
			counts = fmt.Sprintf("%d\t%d\t%d\t%d\t%d\t%d\t%d", c.SourceRecords, c.Copies, c.Sampled, c.Gaps, c.Duplicates, c.OutOfOrder, c.Mismatches)
		}
		digest := "\t" + digestText(p.Digest)
		if sampled {
			digest = ""
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d%s\t%s\n", p.Topic, p.Partition, p.TargetTopic, rangeText(p.Source), counts, c.MapMismatches+c.Unexpected, digest, p.Status)
	}
	tw.Flush()

	var problems, notes []string
	for _, p := range r.Partitions {
		where := fmt.Sprintf("%s/%d", p.Topic, p.Partition)
		for _, pr := range p.Problems {
			problems = append(problems, fmt.Sprintf("%s: %s: %s", where, pr.Kind, pr.Detail))
		}
		if p.Unlisted > 0 {
			problems = append(problems, fmt.Sprintf("%s: and %d more (not listed)", where, p.Unlisted))
		}
		if p.Error != "" {
			problems = append(problems, fmt.Sprintf("%s: not verified: %s", where, p.Error))
		}
		for _, e := range p.Expired {
			notes = append(notes, fmt.Sprintf("%s: offsets %d to %d (%d) expired on the source before the mirror reached them (%s): reported, not loss", where, e.From, e.Until-1, e.Count, e.Reason))
		}
		for _, n := range p.Notes {
			notes = append(notes, where+": "+n)
		}
		if n := explained(p.Counts); n != "" {
			notes = append(notes, where+": "+n)
		}
	}
	if len(problems) > 0 {
		fmt.Fprintln(w, "\nProblems:")
		for _, s := range problems {
			fmt.Fprintln(w, "  "+s)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, s := range notes {
			fmt.Fprintln(w, "  "+s)
		}
	}
}

// explained describes the differences that are not problems.
func explained(c verify.Counts) string {
	var parts []string
	add := func(n int64, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(c.CompactedOnSource, "copies of records compaction removed from the source since")
	add(c.CompactedOnTarget, "copies compaction removed from the target (a later record has the key, or a tombstone)")
	add(c.SourceDeleted, "copies of records the source no longer holds, not compared")
	add(c.BeforeFirstCopy, "source offsets before the first copy (the mirror started after them)")
	add(c.LoopedBack, "source records that came from the target (never copied back)")
	add(c.AfterSnapshot, "copies written after the state was read, not verified")
	return strings.Join(parts, "; ")
}

func printVerifyGroups(w io.Writer, gs []verify.GroupReport) {
	if len(gs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nGroups:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := 0
	var other []string
	for _, g := range gs {
		switch g.Status {
		case verify.GroupNotMigrated:
			other = append(other, fmt.Sprintf("  %s: not migrated (no committed offset on a verified target topic)", g.Group))
			continue
		case verify.GroupError:
			other = append(other, fmt.Sprintf("  %s: not verified: %s", g.Group, g.Error))
			continue
		}
		for _, p := range g.Partitions {
			if rows == 0 {
				fmt.Fprintln(tw, "  GROUP\tTOPIC\tPARTITION\tSOURCE OFFSET\tTRANSLATION\tTARGET OFFSET\tRESULT\tDETAIL")
			}
			rows++
			detail := p.Detail
			if detail == "" {
				detail = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", g.Group, p.Topic, p.Partition, offsetText(p.SourceOffset), offsetText(p.Translation), offsetText(p.TargetOffset), p.Status, detail)
		}
	}
	tw.Flush()
	for _, s := range other {
		fmt.Fprintln(w, s)
	}
}

func rangeText(r verify.Range) string {
	if r.Len() == 0 {
		return fmt.Sprintf("none (at %d)", r.From)
	}
	return fmt.Sprintf("%d-%d", r.From, r.Until-1)
}

func digestText(d *verify.Digest) string {
	switch {
	case d == nil:
		return "-"
	case !d.Comparable:
		return "n/a (compacted)"
	case d.Match:
		return "match " + d.Source[:12]
	}
	return "DIFFERS"
}

func offsetText(o int64) string {
	if o < 0 {
		return "-"
	}
	return fmt.Sprint(o)
}
