// Command mirrorbench measures how fast `kmigrate mirror --until end` copies
// a topic compared with the fastest copies one could make without it: a
// bare franz-go consumer reading the source, a bare franz-go producer
// writing the same records to the target, and kcat consume | produce pipes.
// Everything runs in one go against one `kmigrate sandbox` (its own
// process), against a pair of real Apache Kafka clusters it starts (--real),
// or against two existing clusters given by --source and --target, so the
// numbers share the machine's noise and are read as ratios.
//
// Each contender runs as a child process (the franz-go baselines are this
// binary re-executed with --child), so that wall time, CPU time and peak RSS
// are the contender's own. Every copy is checked afterwards: per-partition
// record counts and an order-sensitive digest of keys and values must match
// what was seeded, so a broken copy cannot pass as a fast one.
//
// See bench/README.md for how to run it and read the output.
package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// options are the command-line flags.
type options struct {
	records, size, partitions, brokers int
	seed                               uint64
	keep, skipKcat                     bool
	lowBudget                          string
	unitRows                           []int
	mirrorArgs                         string
	copyTo                             string
	workDir, resultsDir, kcat          string
	stepTimeout                        time.Duration
	// source and target are the bootstrap servers of existing clusters,
	// comma-separated; both or neither (then a sandbox is started).
	source, target string
	// real starts a pair of real Apache Kafka clusters (version kafka,
	// brokers each) instead of a sandbox.
	real  bool
	kafka string
	// processes continuous `kmigrate mirror --units processUnits` share
	// one migration in a (c) row (0 skips it), next to one continuous
	// process with as many units.
	processes, processUnits int

	// Child mode: run one franz-go baseline and print its result.
	child, bootstrap, topic string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("mirrorbench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench/cmd/mirrorbench [flags]\n\n"+
			"Seeds a source topic on a `kmigrate sandbox` (or the clusters of --source and --target), then measures a franz-go consume-only, a franz-go\n"+
			"produce-only, `kmigrate mirror --until end` (default and low memory budget) and kcat pipes.\n"+
			"See bench/README.md.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.records, "records", 1_000_000, "records in the source topic")
	fs.IntVar(&o.size, "size", 1024, "value size in bytes (keys are 11 bytes)")
	fs.IntVar(&o.partitions, "partitions", 12, "partitions of the source topic")
	fs.IntVar(&o.brokers, "brokers", 3, "brokers per sandbox cluster")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the record values")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory (sandbox data, binary, spec files)")
	fs.BoolVar(&o.skipKcat, "skip-kcat", false, "skip the kcat measurement")
	fs.StringVar(&o.lowBudget, "low-budget", "64MiB", "--memory-budget of the second mirror run (the first uses the default); off skips that run")
	fs.StringVar(&o.copyTo, "copy-to", "", "internal: target topic of --child copy")
	var units string
	fs.StringVar(&units, "units", "1,2,4", "extra (c) rows, one per N, with `kmigrate mirror --units N` in one process (N units copying and committing independently), comma-separated; empty skips them")
	fs.IntVar(&o.processes, "processes", 2, "a (c) row with this many continuous `kmigrate mirror --units N` processes on one migration (N is --process-units), and one with a single such process; 0 skips both")
	fs.IntVar(&o.processUnits, "process-units", 4, "--units of the continuous mirrors of --processes")
	fs.BoolVar(&o.real, "real", false, "start two real Apache Kafka clusters (--brokers each, version --kafka, jars from kafka/fetch) instead of a sandbox")
	fs.StringVar(&o.kafka, "kafka", realkafka.KRaftVersion, "Kafka version of --real")
	fs.StringVar(&o.mirrorArgs, "mirror-args", "", "extra flags for every kmigrate mirror run, space-separated (for experiments)")
	fs.StringVar(&o.workDir, "dir", "", "parent of the temporary data directory (default: the system temp dir)")
	fs.StringVar(&o.resultsDir, "results", "", "directory for the JSON result (default: bench/results in the module)")
	fs.StringVar(&o.kcat, "kcat", "kcat", "kcat binary")
	fs.DurationVar(&o.stepTimeout, "step-timeout", 5*time.Minute, "limit for each measurement (and for seeding)")
	fs.StringVar(&o.source, "source", "", "bootstrap servers (comma-separated) of an existing source cluster; with --target, measure there instead of a sandbox")
	fs.StringVar(&o.target, "target", "", "bootstrap servers (comma-separated) of an existing target cluster; with --source")
	fs.StringVar(&o.child, "child", "", "internal: run one baseline (consume or produce) and print its result as JSON")
	fs.StringVar(&o.bootstrap, "bootstrap", "", "internal: bootstrap servers for --child")
	fs.StringVar(&o.topic, "topic", "", "internal: topic for --child")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (o.source == "") != (o.target == "") && o.child == "" {
		return o, fmt.Errorf("--source and --target go together")
	}
	if o.real && o.source != "" {
		return o, fmt.Errorf("--real starts its own clusters: leave out --source and --target")
	}
	if o.processes < 0 || o.processUnits < 1 {
		return o, fmt.Errorf("--processes %d, --process-units %d: use 0 or more processes of 1 or more units", o.processes, o.processUnits)
	}
	if o.brokers < 1 || o.brokers > 16 {
		return o, fmt.Errorf("--brokers %d: use 1 to 16", o.brokers)
	}
	if o.lowBudget != "off" {
		if _, err := parseMiB(o.lowBudget); err != nil {
			return o, err
		}
	}
	for _, f := range strings.Split(units, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return o, fmt.Errorf("--units %q: use positive numbers of units, comma-separated", units)
		}
		o.unitRows = append(o.unitRows, n)
	}
	if o.stepTimeout <= 0 {
		return o, fmt.Errorf("--step-timeout %s: must be positive", o.stepTimeout)
	}
	return o, nil
}

func main() {
	runinfo.Main("mirrorbench", parseFlags, func(o options) bool { return o.child != "" }, run, runChild)
}
