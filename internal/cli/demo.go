package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/demo"
)

func (e *env) demoCommand() *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Walk a whole live migration on two embedded clusters, in about a minute",
		Long: `demo needs nothing but this binary. It starts two embedded Kafka clusters in
this process, creates three topics (orders with 12 partitions, customers
compacted, payments with a transactional history in which every third
transaction was aborted after its records reached the log) and runs a live
producer app and a live consumer-group app on the old cluster. Then it walks the migration, saying what it does at each step:
mirror (exactly once, continuously), switch the consumers (the group is
stopped, its offsets moved exactly, and it is restarted on the new cluster),
switch the producers, promote the topics once the old cluster is quiet, and
verify the copy record by record.

It ends with a report: records copied, duplicates and gaps as the consumer
app saw them (both 0), where the group resumed, that exactly the committed
payments were copied, and the time taken. The exit
code is 0 only when verify passes and the consumer received every record
exactly once.`,
		Example: `  go run ./cmd/kmigrate demo
  kmigrate demo --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			out := e.stdout
			if output == "json" {
				out = e.stderr // the narration; stdout is the JSON
			}
			// The narration is the output; kmigrate's own info logs would
			// drown it, so only warnings show unless asked otherwise.
			logger := e.logger
			if !cmd.Flags().Changed("log-level") {
				logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			}
			r, err := demo.Run(cmd.Context(), out, demo.Options{Dir: dir, Logger: logger})
			if err != nil {
				return err
			}
			if output == "json" {
				if err := writeJSON(e.stdout, r); err != nil {
					return err
				}
			}
			if !r.OK {
				return silentExit{exitError}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the clusters' data (default: a temporary directory, removed at the end)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "report format: text or json (the narration then goes to stderr)")
	return cmd
}
