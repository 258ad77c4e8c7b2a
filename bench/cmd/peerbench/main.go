// Command peerbench measures kmigrate side by side with Apache Kafka's
// MirrorMaker 2 on one pair of real Kafka clusters, in one run: how fast
// and at what cost each copies a topic (with a bare franz-go copy as the
// ceiling), and how exactly each moves a consumer group, counted as the
// records a real third-party consumer re-reads or skips when it resumes on
// the target. MM2 is what kmigrate's users would otherwise run, so the
// comparison is the one that matters; running both on the same clusters in
// the same run is what makes the numbers comparable.
//
// The clusters are real Apache Kafka brokers started by
// internal/kafkatest/realkafka from the jars kafka/fetch resolves; MM2 runs
// in dedicated mode from the jars `kafka/fetch connect-mirror` resolves.
// Every copy is read back and checked record by record, every scenario's
// consumer output is checked, and the run exits non-zero when one is wrong.
// `make bench-peers` runs it (PEERBENCH_FLAGS passes flags; --help lists
// them); BENCHMARKS.md ("kmigrate and MirrorMaker 2") has a run's tables,
// the settings and how to read them.
package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// options are the command-line flags.
type options struct {
	records, size, records2, size2, partitions int
	kafka                                      string
	rows                                       []string
	scenarios                                  []int
	behind, bigBehind                          int
	workDir, resultsDir                        string
	keep                                       bool
	stepTimeout                                time.Duration

	// Child mode: the bare franz-go copy, measured from outside.
	child, src, tgt, topic, to string
}

// allRows are the throughput rows, in the order they run.
var allRows = []string{"copy", "kmigrate", "mm2-alo", "mm2-eos"}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("peerbench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench/cmd/peerbench [flags]\n\n"+
			"Starts two real Kafka clusters and measures, in one run, a bare franz-go copy, `kmigrate mirror`, MirrorMaker 2\n"+
			"at-least-once and exactly-once (throughput, CPU, peak RSS, time to first record; every copy checked), then\n"+
			"consumer group moves by `kmigrate groups migrate` and by MM2's offset sync (re-delivered and skipped records).\n"+
			"Needs `kafka/fetch` and `kafka/fetch connect-mirror` first (make bench-peers runs them). See BENCHMARKS.md.\n\nflags:\n")
		fs.PrintDefaults()
	}
	var rows, scen string
	fs.IntVar(&o.records, "records", 1_000_000, "records of the first throughput workload")
	fs.IntVar(&o.size, "size", 1024, "value bytes of the first workload (keys are 11 bytes)")
	fs.IntVar(&o.records2, "records2", 10_000_000, "records of the second throughput workload; 0 skips it")
	fs.IntVar(&o.size2, "size2", 100, "value bytes of the second workload")
	fs.IntVar(&o.partitions, "partitions", 12, "partitions of the throughput topics")
	fs.StringVar(&o.kafka, "kafka", realkafka.KRaftVersion, "Kafka version of both clusters (fetched by kafka/fetch)")
	fs.StringVar(&rows, "rows", strings.Join(allRows, ","), "throughput rows to run, comma-separated; empty skips throughput")
	fs.StringVar(&scen, "scenarios", defaultScenarios, "group-move scenarios of issue 14 to run, comma-separated; empty skips them")
	fs.IntVar(&o.behind, "behind", 10_000, "how far behind the group of scenario 2 is")
	fs.IntVar(&o.bigBehind, "big-behind", 1_000_000, "how far behind the group of scenario 3 is")
	fs.StringVar(&o.workDir, "dir", "", "parent of the temporary data directory (default: the system temp dir)")
	fs.StringVar(&o.resultsDir, "results", "", "directory for the JSON and markdown results (default: bench/results in the module)")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory (cluster data, MM2 configs and logs)")
	fs.DurationVar(&o.stepTimeout, "step-timeout", 20*time.Minute, "limit for each measurement and scenario")
	fs.StringVar(&o.child, "child", "", "internal: run the bare copy (copy)")
	fs.StringVar(&o.src, "src", "", "internal: source bootstrap of --child")
	fs.StringVar(&o.tgt, "tgt", "", "internal: target bootstrap of --child")
	fs.StringVar(&o.topic, "topic", "", "internal: source topic of --child")
	fs.StringVar(&o.to, "to", "", "internal: target topic of --child")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.rows, err = parseRows(rows); err != nil {
		return o, err
	}
	if o.scenarios, err = parseScenarios(scen); err != nil {
		return o, err
	}
	switch {
	case o.records < 1 || o.size < 1 || o.records2 < 0 || o.size2 < 1:
		return o, fmt.Errorf("--records %d, --size %d, --records2 %d, --size2 %d: records at least 1 (--records2 0 skips), sizes at least 1", o.records, o.size, o.records2, o.size2)
	case o.partitions < 1 || o.partitions > 1000:
		return o, fmt.Errorf("--partitions %d: use 1 to 1000", o.partitions)
	case o.behind < 1 || o.bigBehind < 1:
		return o, fmt.Errorf("--behind %d, --big-behind %d: each must be at least 1", o.behind, o.bigBehind)
	case o.stepTimeout <= 0:
		return o, fmt.Errorf("--step-timeout %s: must be positive", o.stepTimeout)
	}
	return o, nil
}

// parseRows reads --rows.
func parseRows(s string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !slices.Contains(allRows, f) {
			return nil, fmt.Errorf("--rows: unknown row %q; use some of %s", f, strings.Join(allRows, ","))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// parseScenarios reads --scenarios: numbers 1 to 7, in the order given.
func parseScenarios(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 7 {
			return nil, fmt.Errorf("--scenarios: %q is not a scenario; use numbers 1 to 7, comma-separated", f)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func main() {
	runinfo.Main("peerbench", parseFlags, func(o options) bool { return o.child != "" }, run, runChild)
}
