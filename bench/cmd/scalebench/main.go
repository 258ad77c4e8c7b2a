// Command scalebench measures what a migration of many partitions costs
// kmigrate (issue 13, "Scale on paper and in measurement"): a continuous
// `kmigrate mirror --units U` of P small partitions, run as 1 process and
// as 2 processes of one migration, on two in-memory kfake clusters, each in
// its own process (cluster.go says why not `kmigrate sandbox`). For each P and each process count it measures the time to
// start, to the first copy and to the full copy, the state topic's size,
// peak RSS per partition, the time a survivor takes to own every unit
// after the other process is killed with SIGKILL (2 processes), and the
// time of `kmigrate groups migrate --all` and `kmigrate verify` afterwards.
//
// Running every measurement at two sizes (1,000 and 10,000 partitions by
// default) is the point: per-partition costs that stay flat scale
// linearly, and a cost that grows with P is a loop over partitions inside
// a loop over partitions somewhere. Every step is checked (per-partition
// record counts on the target equal the source's, every group moved,
// verify reports every record matched), so a broken run cannot pass as a
// fast one.
//
// See bench/README.md for how to run it and read the output.
package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
)

// options are the command-line flags.
type options struct {
	partitions          []int // the sizes measured
	procs               []int // the process counts measured
	perTopic            int   // partitions per source topic
	records, size       int   // per partition; value bytes
	units               int
	sessionTimeout      time.Duration
	groups, groupTopics int
	brokers             int
	keep                bool
	workDir, resultsDir string
	stepTimeout         time.Duration
	profileSeconds      int
	mirrorArgs          string
	// child is "cluster" in a cluster child process (cluster.go).
	child string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("scalebench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench/cmd/scalebench [flags]\n\n"+
			"Measures a continuous `kmigrate mirror --units U` of many small partitions on in-memory kfake clusters,\n"+
			"with 1 and 2 processes: start, first copy, full copy, state size, memory per partition, rebalance\n"+
			"after kill -9, groups migrate --all and verify. See bench/README.md.\n\nflags:\n")
		fs.PrintDefaults()
	}
	var parts, procs string
	fs.StringVar(&parts, "partitions", "1000,10000", "source partition counts to measure, comma-separated (each a multiple of --per-topic)")
	fs.StringVar(&procs, "procs", "1,2", "mirror process counts to measure, comma-separated (1 or 2)")
	fs.IntVar(&o.perTopic, "per-topic", 100, "partitions per source topic")
	fs.IntVar(&o.records, "records", 20, "records per partition")
	fs.IntVar(&o.size, "size", 100, "value size in bytes")
	fs.IntVar(&o.units, "units", 8, "kmigrate mirror --units")
	fs.DurationVar(&o.sessionTimeout, "session-timeout", 10*time.Second, "kmigrate mirror --session-timeout")
	fs.IntVar(&o.groups, "groups", 100, "consumer groups committed on the source before groups migrate --all")
	fs.IntVar(&o.groupTopics, "group-topics", 2, "topics each group has committed on (every partition of each)")
	fs.IntVar(&o.brokers, "brokers", 3, "brokers per sandbox cluster")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory (sandbox data, binary, specs, mirror logs)")
	fs.StringVar(&o.workDir, "dir", "", "parent of the temporary data directory (default: the system temp dir)")
	fs.StringVar(&o.resultsDir, "results", "", "directory for the JSON result (default: bench/results in the module)")
	fs.DurationVar(&o.stepTimeout, "step-timeout", 15*time.Minute, "limit for each measured step")
	fs.IntVar(&o.profileSeconds, "profile", 0, "if > 0, save a CPU profile of this many seconds from the first mirror process, taken from its start (--http /debug/pprof), for each size and process count")
	fs.StringVar(&o.mirrorArgs, "mirror-args", "", "extra flags for every kmigrate mirror process, space-separated (for experiments, e.g. --log-level debug)")
	fs.StringVar(&o.child, "child", "", "internal: run one in-memory kfake cluster of --brokers brokers (cluster)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.partitions, err = parseInts(parts); err != nil {
		return o, fmt.Errorf("--partitions: %w", err)
	}
	if o.procs, err = parseInts(procs); err != nil {
		return o, fmt.Errorf("--procs: %w", err)
	}
	for _, n := range o.procs {
		if n != 1 && n != 2 {
			return o, fmt.Errorf("--procs %q: use 1, 2 or 1,2", procs)
		}
	}
	if o.perTopic < 1 || o.records < 2 || o.size < 1 || o.units < 2 || o.brokers < 1 {
		return o, fmt.Errorf("--per-topic, --size and --brokers must be at least 1, --records and --units at least 2")
	}
	for _, p := range o.partitions {
		if p%o.perTopic != 0 {
			return o, fmt.Errorf("--partitions %d is not a multiple of --per-topic %d", p, o.perTopic)
		}
		if o.groupTopics > p/o.perTopic {
			return o, fmt.Errorf("--group-topics %d: only %d topics at %d partitions", o.groupTopics, p/o.perTopic, p)
		}
	}
	if o.groups < 0 || o.groupTopics < 1 || o.stepTimeout <= 0 || o.sessionTimeout <= 0 {
		return o, fmt.Errorf("--groups must not be negative; --group-topics, --step-timeout and --session-timeout must be positive")
	}
	return o, nil
}

// parseInts reads "1000,10000": positive numbers, comma-separated.
func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: use positive numbers, comma-separated", s)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: give at least one number", s)
	}
	return out, nil
}

func main() {
	runinfo.Main("scalebench", parseFlags, func(o options) bool { return o.child != "" }, run, func(ctx context.Context, o options) error {
		if o.child != "cluster" {
			return fmt.Errorf("--child %q: only cluster", o.child)
		}
		return runCluster(ctx, o)
	})
}
