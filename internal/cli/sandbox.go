package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/sandbox"
)

func (e *env) sandboxCommand() *cobra.Command {
	var (
		dir                    string
		reset, sample          bool
		sourcePort, targetPort int
		brokers                int
	)
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run two local Kafka clusters (source and target) to try kmigrate on",
		Long: `sandbox starts two embedded Kafka clusters in the foreground: the source on
127.0.0.1:19092-19094 and the target on 127.0.0.1:29092-29094 (3 brokers each,
distinct cluster ids). Their data is kept under --dir, so a restart keeps it;
--reset wipes it first. Ctrl-C (SIGINT) or SIGTERM stops both cleanly.

With --sample-data it seeds the source with topics (orders with 6 partitions,
customers compacted, payments transactional: 60 transactions of 200 records,
every third aborted after its records reached the log, several fetches deep)
and consumer groups with committed offsets, unless they already exist.

The clusters are franz-go's kfake: fine for trying kmigrate and for tests,
not for production data.`,
		Example: `  kmigrate sandbox --sample-data
  kmigrate sandbox --reset --source-port 39092 --target-port 49092
  # in another terminal:
  kmigrate check --source 127.0.0.1:19092 --target 127.0.0.1:29092`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if brokers < 1 || brokers > 16 {
				return usageError{fmt.Errorf("--brokers %d: use 1 to 16", brokers)}
			}
			for name, p := range map[string]int{"--source-port": sourcePort, "--target-port": targetPort} {
				if p < 1 || p+brokers-1 > 65535 {
					return usageError{fmt.Errorf("%s %d: use a port from 1 to %d", name, p, 65536-brokers)}
				}
			}
			if sourcePort < targetPort+brokers && targetPort < sourcePort+brokers {
				return usageError{fmt.Errorf("--source-port %d and --target-port %d overlap for %d brokers each: move one of them", sourcePort, targetPort, brokers)}
			}
			if dir == "" {
				d, err := sandbox.DefaultDir()
				if err != nil {
					return usageError{fmt.Errorf("no default sandbox directory (%w): set --dir", err)}
				}
				dir = d
			}
			sb, err := sandbox.Start(ctx, sandbox.Config{
				Dir:         dir,
				SourcePorts: sandbox.DefaultPorts(sourcePort, brokers),
				TargetPorts: sandbox.DefaultPorts(targetPort, brokers),
				Reset:       reset,
				Logger:      e.logger,
			})
			if err != nil {
				return err
			}
			defer sb.Close()
			for _, ep := range []struct {
				role string
				sandbox.Endpoint
			}{{"source", sb.Source()}, {"target", sb.Target()}} {
				state := "new data"
				if ep.Restored {
					state = "data restored"
				}
				fmt.Fprintf(e.stdout, "%s ready: bootstrap %s (cluster id %s, %s in %s)\n",
					ep.role, strings.Join(ep.Bootstrap, ","), ep.ID, state, ep.Dir)
			}
			if sample {
				rep, err := sandbox.Seed(ctx, sb.Source().Bootstrap, e.logger)
				if err != nil {
					return fmt.Errorf("seed sample data: %w", err)
				}
				printSeedReport(e.stdout, rep)
			}
			fmt.Fprintf(e.stdout, "sandbox running; try: kmigrate check --source %s --target %s\npress Ctrl-C to stop\n",
				sb.Source().Bootstrap[0], sb.Target().Bootstrap[0])
			<-ctx.Done()
			if err := sb.Close(); err != nil {
				return fmt.Errorf("stop sandbox: %w", err)
			}
			fmt.Fprintf(e.stdout, "sandbox stopped; data kept in %s\n", dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "data directory (default: the user cache dir, e.g. ~/.cache/kmigrate/sandbox)")
	f.BoolVar(&reset, "reset", false, "wipe the sandbox data before starting")
	f.BoolVar(&sample, "sample-data", false, "seed sample topics and consumer groups on the source")
	f.IntVar(&sourcePort, "source-port", 19092, "first port of the source brokers")
	f.IntVar(&targetPort, "target-port", 29092, "first port of the target brokers")
	f.IntVar(&brokers, "brokers", 3, "brokers per cluster")
	return cmd
}

func printSeedReport(w io.Writer, rep sandbox.SeedReport) {
	if rep.AlreadySeeded {
		fmt.Fprintln(w, "sample data: already present, nothing written")
		return
	}
	fmt.Fprintln(w, "sample data written to the source:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  topic	partitions	records	notes")
	for _, t := range rep.Topics {
		var notes []string
		if t.Configs["cleanup.policy"] == "compact" {
			notes = append(notes, "compacted")
		}
		if t.Tombstones > 0 {
			notes = append(notes, fmt.Sprintf("%d tombstones", t.Tombstones))
		}
		if t.Aborted > 0 {
			notes = append(notes, fmt.Sprintf("transactional, %d aborted", t.Aborted))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\n", t.Name, t.Partitions, t.Records, strings.Join(notes, ", "))
	}
	fmt.Fprintln(tw, "  group\ttopic\tcommitted offsets by partition")
	for _, g := range rep.Groups {
		fmt.Fprintf(tw, "  %s\t%s\t%v\n", g.Name, g.Topic, g.Offsets)
	}
	tw.Flush()
}
