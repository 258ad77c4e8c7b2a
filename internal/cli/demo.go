package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/demo"
	"github.com/kmigrate/kmigrate/internal/httpapi"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/status"
)

func (e *env) demoCommand() *cobra.Command {
	var (
		dir, output, httpAddr string
		linger                time.Duration
	)
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
exactly once.

--http ADDR serves the migration dashboard through the whole demo (on
loopback unless ADDR names a host), and keeps the clusters up for --linger
(10m with --http) after the report, so the final state can be looked at;
Ctrl-C ends it.`,
		Example: `  go run ./cmd/kmigrate demo
  go run ./cmd/kmigrate demo --http :8080      # watch it on http://127.0.0.1:8080/
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
			o := demo.Options{Dir: dir, Logger: logger, Linger: linger, Verified: e.recordVerified}
			if httpAddr != "" {
				addr := loopbackDefault(httpAddr)
				ln, err := net.Listen("tcp", addr) // refuse a bad address before starting anything
				if err != nil {
					return usageError{fmt.Errorf("--http: %w", err)}
				}
				ln.Close()
				if !cmd.Flags().Changed("linger") {
					o.Linger = 10 * time.Minute
				}
				o.Watch = func(ctx context.Context, h *migration.Handle, r *migrate.Runner) func() {
					mux := http.NewServeMux()
					httpapi.Register(mux, httpapi.ForRunner(h, r))
					// The demo's own quiet period, so that the page
					// sees the producers move when the narration does.
					wait := addDashboard(ctx, mux, h, r, status.Options{Quiet: demo.DefaultQuiet, Sample: httpapi.StatusSample})
					if a, err := e.serve(ctx, addr, mux); err != nil {
						logger.Error("the dashboard could not be served", "err", err)
					} else {
						fmt.Fprintf(out, "Dashboard: http://%s/\n", a)
					}
					return wait
				}
			}
			r, err := demo.Run(cmd.Context(), out, o)
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
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve the migration dashboard on this address through the demo, e.g. :8080 (loopback unless a host is given)")
	cmd.Flags().DurationVar(&linger, "linger", 0, "keep the clusters and the dashboard up this long after the report (default 10m with --http)")
	return cmd
}
