// Command groupbench measures how long translating one consumer group's
// committed offsets to the target takes, and how many fetches it costs,
// for a group over many partitions (issue 4: 1,000 partitions of 100,000
// records each).
//
// It starts a `kmigrate sandbox` (two kfake clusters persisting to a data
// directory, in their own process), fills a source topic, copies it to the
// target with kmigrate's mirror engine (internal/mirror: exactly-once,
// tracing headers, until the end), commits one offset per partition for a
// group on the source, and then measures, each in its own child process
// (this binary re-executed with --child) so that peak RSS is the method's
// own:
//
//   - the map method: state.Load of the state topic, groups.FromSnapshot
//     and groups.Translate for every partition, without fetching the
//     mirrored topic;
//   - the search method: groups.Search for every partition, some at once
//     and one at a time, with its fetches per partition against the bound
//     2*ceil(log2 n)+4;
//   - groups.Migrate with DryRun, as `kmigrate groups migrate --dry-run`
//     runs it for the whole group: the map method plus one verification
//     read of the record at each translated offset.
//
// Every partition's answer must be the same from every method, of the kind
// the data implies, and the record at each translated offset must be the
// copy of the committed source offset; otherwise the run fails.
//
// With --source and --target it measures two existing clusters instead of
// a sandbox (real Kafka, say): its topic, group and migration get a unique
// prefix and are deleted at the end.
//
// See bench/README.md for how to run it and read the output.
package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
)

// options are the command-line flags.
type options struct {
	shape       Shape
	brokers     int
	concurrency int
	sequential  bool
	quick       bool
	keep        bool
	workDir     string
	out         string
	timeout     time.Duration

	// source and target are the bootstrap servers of existing clusters,
	// measured instead of a sandbox.
	source, target string

	// Child mode: run one method and print what it measured.
	child, inputs string
}

// quickShape is the --quick preset: a smoke run of a few seconds.
var quickShape = Shape{Partitions: 100, Records: 10_000}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("groupbench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench/cmd/groupbench [flags]\n\n"+
			"Mirrors a topic of --partitions x --records into a `kmigrate sandbox`, commits a group's offsets on\n"+
			"the source, and measures translating them to the target from the offset map (state topic), by\n"+
			"searching the tracing headers, and with groups.Migrate --dry-run. See bench/README.md.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.shape.Partitions, "partitions", 1000, "partitions of the topic (the group commits an offset in each)")
	fs.IntVar(&o.shape.Records, "records", 100_000, "records per partition")
	fs.IntVar(&o.shape.Size, "size", 32, "value size in bytes (keys are 11 bytes)")
	fs.Uint64Var(&o.shape.Seed, "seed", 1, "seed of the values and the committed offsets")
	fs.BoolVar(&o.quick, "quick", false, fmt.Sprintf("smoke run: %d partitions x %d records (overrides --partitions and --records)", quickShape.Partitions, quickShape.Records))
	fs.IntVar(&o.brokers, "brokers", 3, "brokers per sandbox cluster")
	fs.IntVar(&o.concurrency, "concurrency", 8, "searches run at once in the concurrent search measurement")
	fs.BoolVar(&o.sequential, "sequential", true, "also measure the search one partition at a time")
	fs.BoolVar(&o.keep, "keep-dir", false, "keep the data directory (sandbox data, binary, inputs)")
	fs.StringVar(&o.workDir, "dir", "", "parent of the temporary data directory (default: the system temp dir)")
	fs.StringVar(&o.out, "out", "", "where the JSON result goes: a directory (named by the start time) or a .json file (default: bench/results in the module)")
	fs.DurationVar(&o.timeout, "timeout", time.Hour, "limit for the whole run")
	fs.StringVar(&o.source, "source", "", "bootstrap servers (comma-separated) of an existing source cluster; with --target, measure there instead of a sandbox")
	fs.StringVar(&o.target, "target", "", "bootstrap servers (comma-separated) of an existing target cluster; with --source")
	fs.StringVar(&o.child, "child", "", "internal: run one method (map, search or migrate) and print what it measured as JSON")
	fs.StringVar(&o.inputs, "inputs", "", "internal: the inputs file of --child")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.quick {
		o.shape.Partitions, o.shape.Records = quickShape.Partitions, quickShape.Records
	}
	switch {
	case (o.source == "") != (o.target == ""):
		return o, fmt.Errorf("--source and --target go together")
	case o.shape.Partitions < 1 || o.shape.Partitions > 100_000:
		return o, fmt.Errorf("--partitions %d: use 1 to 100000", o.shape.Partitions)
	case o.shape.Records < 1:
		return o, fmt.Errorf("--records %d: must be at least 1", o.shape.Records)
	case o.shape.Size < 1 || o.shape.Size > 100_000:
		return o, fmt.Errorf("--size %d: use 1 to 100000", o.shape.Size)
	case o.brokers < 1 || o.brokers > 16:
		return o, fmt.Errorf("--brokers %d: use 1 to 16", o.brokers)
	case o.concurrency < 1 || o.concurrency > 1024:
		return o, fmt.Errorf("--concurrency %d: use 1 to 1024", o.concurrency)
	case o.timeout <= 0:
		return o, fmt.Errorf("--timeout %s: must be positive", o.timeout)
	}
	return o, nil
}

func main() {
	runinfo.Main("groupbench", parseFlags, func(o options) bool { return o.child != "" }, run, runChild)
}
