// Package cli holds kmigrate's cobra commands. A command parses its flags
// into a config, calls one domain package, and prints the result; it holds
// no migration logic of its own, so that everything a command does can be
// tested without a terminal.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed (or found blocking problems)
	exitUsage = 2 // the command line or the configuration is wrong
)

// usageError marks errors in what the user typed or wrote, for the exit
// code.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError makes a command fail with a code after printing its own output.
type silentExit struct{ code int }

func (e silentExit) Error() string { return fmt.Sprintf("exit %d", e.code) }

// env is what commands share: streams, logger and the global flags.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// lookupEnv reads environment variables for ${VAR} expansion; tests
	// replace it.
	lookupEnv func(string) (string, bool)

	logLevel  string
	logFormat string
	logger    *slog.Logger

	overrides      config.Overrides
	connectTimeout setDuration
}

// setDuration is a duration flag that remembers whether it was given, so
// that an explicit 0s or -1s is refused instead of meaning "not given".
type setDuration struct {
	d   time.Duration
	set bool
}

func (f *setDuration) String() string { return f.d.String() }
func (f *setDuration) Type() string   { return "duration" }
func (f *setDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	f.d, f.set = d, true
	return nil
}

// Main runs kmigrate with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv}
	return e.run(args)
}

func (e *env) run(args []string) int {
	root := e.rootCommand()
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(e.ctx)
	if err == nil {
		return exitOK
	}
	var se silentExit
	if errors.As(err, &se) {
		return se.code
	}
	fmt.Fprintf(e.stderr, "kmigrate: %s\n", indentJoined(err))
	return exitCode(err)
}

// exitCode is the exit code for a command's error: usage for a usageError
// (anywhere in the chain), an error otherwise, whatever the message says.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// indentJoined prints errors.Join'ed errors one per line.
func indentJoined(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "\n  ")
}

// markUsage makes every error cobra reports about the command line a
// usageError, by type: flag parsing (the flag error func, inherited by
// every command), argument validation (each command's Args) and unknown
// commands (the root's own RunE). Matching cobra's message texts instead
// would also catch a command's own errors that happen to contain the same
// words.
func markUsage(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// With Args set, cobra hands unknown words to the root instead of
	// failing in its own lookup.
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("unknown command %q for %q: see kmigrate --help", args[0], cmd.CommandPath())}
		}
		return cmd.Help()
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root && c.Args != nil {
			args := c.Args
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError{err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kmigrate",
		Short: "Move a live Kafka workload from one cluster to another, exactly",
		Long: `kmigrate moves topics, records and consumer group positions from a source
Kafka cluster to a target cluster, with no record lost, none delivered twice,
and a way back at every step.

Clusters are given with flags (--source, --target, --source-config,
--target-config) or a migration spec file (-f migration.yaml); flags override
the file. Client properties files may be in the Java client or the
librdkafka dialect. See docs/configuration.md for every setting.`,
		Example: `  # try it on two local clusters
  kmigrate sandbox --sample-data &
  kmigrate check --source 127.0.0.1:19092 --target 127.0.0.1:29092

  # real clusters with existing client properties files
  kmigrate check --source-config source.properties --target-config target.properties

  # a migration spec
  kmigrate check -f migration.yaml`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return e.setupLogger()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&e.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&e.logFormat, "log-format", "text", "log format: text or json")
	root.AddCommand(
		e.versionCommand(),
		e.checkCommand(),
		e.sandboxCommand(),
		e.mirrorCommand(),
		e.groupsCommand(),
		e.planCommand(),
		e.statusCommand(),
		e.promoteCommand(),
		e.demoCommand(),
		e.verifyCommand(),
		e.offsetsCommand(),
		e.accessCommand(),
		e.gatewayCommand(),
	)
	markUsage(root)
	return root
}

// addClusterFlags adds the flags that select the clusters, topics and
// groups, for commands that talk to both clusters.
func (e *env) addClusterFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	o := &e.overrides
	f.StringVarP(&o.SpecFile, "file", "f", "", "migration spec file (YAML)")
	f.StringVar(&o.Source, "source", "", "source bootstrap servers, HOST:PORT[,HOST:PORT...]")
	f.StringVar(&o.Target, "target", "", "target bootstrap servers, HOST:PORT[,HOST:PORT...]")
	f.StringVar(&o.SourceConfig, "source-config", "", "source client properties file (Java or librdkafka dialect)")
	f.StringVar(&o.TargetConfig, "target-config", "", "target client properties file (Java or librdkafka dialect)")
	f.StringVar(&o.Topics, "topics", "", "regular expression of topics to select (whole name)")
	f.StringVar(&o.Groups, "groups", "", "regular expression of consumer groups to select (whole name)")
	f.Var(&e.connectTimeout, "connect-timeout", "how long to try to reach each cluster (default 10s, or the spec's connect_timeout)")
}

// loadConfig resolves the spec file, properties files and flags into a
// validated Config. Every problem is a usageError.
func (e *env) loadConfig() (*config.Config, error) {
	cfg, warnings, err := config.Load(e.overrides, e.lookupEnv)
	for _, w := range warnings {
		e.logger.Warn(w)
	}
	if err != nil {
		return nil, usageError{err}
	}
	if e.connectTimeout.set {
		if err := config.CheckConnectTimeout(e.connectTimeout.d); err != nil {
			return nil, usageError{fmt.Errorf("--connect-timeout: %w", err)}
		}
		cfg.Source.ConnectTimeout = e.connectTimeout.d
		cfg.Target.ConnectTimeout = e.connectTimeout.d
	}
	// Building the client options reads the certificate files, so a
	// missing or malformed one is reported here, as bad input, before any
	// connection is made.
	var errs []error
	for _, c := range []*config.Cluster{&cfg.Source, &cfg.Target} {
		if _, err := cluster.Opts(c, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

func (e *env) setupLogger() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(e.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", e.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch e.logFormat {
	case "text":
		e.logger = slog.New(slog.NewTextHandler(e.stderr, opts))
	case "json":
		e.logger = slog.New(slog.NewJSONHandler(e.stderr, opts))
	default:
		return usageError{fmt.Errorf("--log-format %q: use text or json", e.logFormat)}
	}
	return nil
}
