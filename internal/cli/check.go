package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/preflight"
)

func (e *env) checkCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Pre-flight: connect to both clusters and report what a migration can do (writes nothing)",
		Long: `check connects to the source and the target and prints, for each, the cluster
id, brokers, controller, the API versions a migration relies on (transactions,
idempotence, DeleteRecords, incremental configs, KIP-848 groups) and what the
credentials may do where the cluster tells (describe and read on the source;
create topics, write and commit offsets on the target).

It writes nothing to either cluster. It refuses when source and target are the
same cluster. The exit code is 0 when both clusters are usable, 1 when a
cluster cannot be reached or a blocking problem was found, 2 for a wrong
command line or configuration.`,
		Example: `  kmigrate check --source 127.0.0.1:19092 --target 127.0.0.1:29092
  kmigrate check --source-config source.properties --target-config target.properties --topics 'orders\..*'
  kmigrate check -f migration.yaml --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			rep, err := preflight.Run(cmd.Context(), cfg, e.logger)
			if err != nil {
				return err
			}
			if err := emit(e.stdout, output, rep, func(w io.Writer) { printReport(w, rep) }); err != nil {
				return err
			}
			if !rep.OK() {
				return silentExit{exitError}
			}
			return nil
		},
	}
	e.addClusterFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func printReport(w io.Writer, r *preflight.Report) {
	for _, s := range []*preflight.Side{r.Source, r.Target} {
		printSide(w, s)
		fmt.Fprintln(w)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "Warnings:")
		for _, p := range r.Warnings {
			fmt.Fprintf(w, "  - %s\n", p)
		}
	}
	if len(r.Problems) > 0 {
		fmt.Fprintln(w, "Problems (each blocks the migration):")
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
		fmt.Fprintln(w, "FAILED: fix the problems above and run check again.")
		return
	}
	fmt.Fprintln(w, "OK: both clusters are reachable and distinct.")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printSide(w io.Writer, s *preflight.Side) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\n", strings.ToUpper(s.Role), strings.Join(s.Bootstrap, ","))
	fmt.Fprintf(tw, "  cluster id\t%s\n", s.ClusterID)
	fmt.Fprintf(tw, "  kafka version\t%s\n", versionText(s.VersionGuess))
	fmt.Fprintf(tw, "  controller\t%d\n", s.ControllerID)
	fmt.Fprintf(tw, "  brokers\t%d\n", len(s.Brokers))
	for _, b := range s.Brokers {
		rack := ""
		if b.Rack != "" {
			rack = " rack " + b.Rack
		}
		fmt.Fprintf(tw, "    %d\t%s%s\n", b.ID, b.Addr(), rack)
	}
	f := s.Features
	fmt.Fprintf(tw, "  features\ttransactions %s, idempotence %s, delete records %s, incremental configs %s, KIP-848 groups %s\n",
		yesNo(f.Transactions), yesNo(f.Idempotence), yesNo(f.DeleteRecords), yesNo(f.IncrementalConfigs), yesNo(f.KIP848Groups))
	fmt.Fprintf(tw, "  selected\t%d topics, %d groups\n", len(s.SelectedTopics), len(s.SelectedGroups))
	tw.Flush()

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  API\tmax version\tused for")
	for _, a := range s.APIs {
		v := "unsupported"
		if a.Supported() {
			v = fmt.Sprintf("v%d", a.Max)
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", a.Name, v, a.Purpose)
	}
	tw.Flush()

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  credentials may\tanswer\tdetail")
	for _, a := range s.Access {
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", a.What, a.Status, a.Detail)
	}
	tw.Flush()
}

// versionText is the kafka version line: a release guessed from the API
// versions says so; an unknown one explains itself.
func versionText(guess string) string {
	if strings.HasPrefix(guess, "unknown") {
		return guess
	}
	return guess + " (guessed from API versions)"
}
