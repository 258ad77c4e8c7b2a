// Command verifybench measures how fast `kmigrate verify` proves a copy
// record by record, compared with the fastest way to merely read both
// copies: bare franz-go consumers of the source topic and of its target
// copy, one after the other and both at once.
//
// It starts a `kmigrate sandbox` (its own process), seeds the same topic as
// mirrorbench (1,000,000 records of 1 KiB over 12 partitions by default),
// copies it with `kmigrate mirror --until end` (exactly-once, tracing
// headers: the defaults), and then measures, each as its own child process
// so that wall time, CPU and peak RSS are its own:
//
//	(a) a bare franz-go consumer of the source topic (read_committed)
//	(b) a bare franz-go consumer of the target copy
//	(c) both at once, in one process
//	(d) kmigrate verify, full mode (every record compared, digests)
//	(e) kmigrate verify --sample N
//
// The verify runs must report the copy correct (exit 0, every record
// matched); the consumers must count every record. See bench/README.md.
//
// With --source and --target it measures two existing clusters instead of
// a sandbox (real Kafka, say): its topics get a unique prefix, and the
// source topic, the copy and the migration's state topic are deleted at
// the end.
package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
)

// options are the command-line flags.
type options struct {
	records, size, partitions, brokers int
	parallel, sample                   int
	seed                               uint64
	keep                               bool
	workDir, resultsDir                string
	stepTimeout                        time.Duration

	// Child mode: run one franz-go baseline and print its result.
	child, source, target, topic string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("verifybench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench/cmd/verifybench [flags]\n\n"+
			"Seeds and mirrors a topic on a `kmigrate sandbox`, then measures bare franz-go consumers of the source\n"+
			"and target copies against `kmigrate verify` (full and --sample). See bench/README.md.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.records, "records", 1_000_000, "records in the source topic")
	fs.IntVar(&o.size, "size", 1024, "value size in bytes (keys are 11 bytes)")
	fs.IntVar(&o.partitions, "partitions", 12, "partitions of the source topic")
	fs.IntVar(&o.brokers, "brokers", 3, "brokers per sandbox cluster")
	fs.IntVar(&o.parallel, "parallel", 4, "kmigrate verify --parallel")
	fs.IntVar(&o.sample, "sample", 20, "kmigrate verify --sample of the sample run (0 skips it)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the record values")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory")
	fs.StringVar(&o.workDir, "dir", "", "parent of the temporary data directory (default: the system temp dir)")
	fs.StringVar(&o.resultsDir, "results", "", "directory for the JSON result (default: bench/results in the module)")
	fs.DurationVar(&o.stepTimeout, "step-timeout", 10*time.Minute, "limit for each measurement (and for seeding and mirroring)")
	fs.StringVar(&o.child, "child", "", "internal: run a baseline (consume, consume-both) and print its result as JSON")
	fs.StringVar(&o.source, "source", "", "bootstrap servers (comma-separated) of an existing source cluster; with --target, measure there instead of a sandbox")
	fs.StringVar(&o.target, "target", "", "bootstrap servers (comma-separated) of an existing target cluster; with --source")
	fs.StringVar(&o.topic, "topic", "", "internal: topic for --child")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.brokers < 1 || o.brokers > 16:
		return o, fmt.Errorf("--brokers %d: use 1 to 16", o.brokers)
	case o.parallel < 1 || o.sample < 0:
		return o, errors.New("--parallel must be at least 1 and --sample not negative")
	case (o.source == "") != (o.target == "") && o.child == "":
		return o, errors.New("--source and --target go together")
	case o.stepTimeout <= 0:
		return o, fmt.Errorf("--step-timeout %s: must be positive", o.stepTimeout)
	}
	return o, nil
}

func main() {
	runinfo.Main("verifybench", parseFlags, func(o options) bool { return o.child != "" }, run, runChild)
}
