package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
)

// Row is one size and process count.
type Row struct {
	Partitions int   `json:"partitions"`
	Procs      int   `json:"processes"`
	Units      int   `json:"units"`
	Records    int64 `json:"records"`
	// StartSeconds is, per process, from its start to its first "work
	// units assigned" log line (the time in the line).
	StartSeconds []float64 `json:"start_seconds"`
	// FirstWriteSeconds is from the first process's start until a target
	// partition's end offset is above 0 (a copy written, in an open
	// transaction); FirstCopySeconds until a last stable offset is (a
	// copy committed, visible to read_committed consumers).
	FirstWriteSeconds float64 `json:"first_write_seconds"`
	FirstCopySeconds  float64 `json:"first_copy_seconds"`
	// TargetEndsSeconds is until every target partition's last stable
	// offset reached the source's end offset; FullCopySeconds until the
	// checkpoints in the state topic also cover every source end offset
	// (lag 0 in kmigrate status).
	TargetEndsSeconds float64 `json:"target_ends_seconds"`
	FullCopySeconds   float64 `json:"full_copy_seconds"`
	// CopyClusterCPU is the clusters' CPU seconds from the start to the
	// full copy.
	CopyClusterCPU float64 `json:"copy_cluster_cpu_seconds"`
	// StateOffsets sums the state topic's partition end offsets (records
	// and transaction markers); StateBytes is its size from
	// DescribeLogDirs, -1 when the cluster does not say (StateBytesNote).
	StateOffsets   int64  `json:"state_offsets"`
	StateBytes     int64  `json:"state_bytes"`
	StateBytesNote string `json:"state_bytes_note,omitempty"`
	// MaxRSS is the largest peak RSS (VmHWM) of the mirror processes,
	// MaxRSSSum the sum of their peaks; CPUSeconds their CPU time, over
	// their whole life (copy, rebalance, idle until stopped).
	MaxRSS     int64   `json:"max_rss_bytes"`
	MaxRSSSum  int64   `json:"max_rss_sum_bytes"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// Rebalance, 2 processes: UnitsBeforeKill is the survivor's and the
	// victim's units; OwnAllSeconds from SIGKILL to the survivor's log
	// line that completes its set of units; MarkersSeconds from SIGKILL
	// until a record written to every source partition after the kill
	// is committed on the target; RebalanceSeconds the larger.
	UnitsBeforeKill  string  `json:"units_before_kill,omitempty"`
	OwnAllSeconds    float64 `json:"own_all_seconds,omitempty"`
	MarkersSeconds   float64 `json:"markers_seconds,omitempty"`
	RebalanceSeconds float64 `json:"rebalance_seconds,omitempty"`
	// Groups and GroupPartitions are what groups migrate --all moved.
	Groups               int     `json:"groups"`
	GroupPartitions      int     `json:"partitions_per_group"`
	GroupsMigrateSeconds float64 `json:"groups_migrate_seconds"`
	VerifySeconds        float64 `json:"verify_seconds"`
	// ClusterMaxRSS and ClusterCPUSeconds are the two kfake processes'
	// peaks summed and their CPU over the row.
	ClusterMaxRSS     int64   `json:"cluster_max_rss_bytes"`
	ClusterCPUSeconds float64 `json:"cluster_cpu_seconds"`
	Err               string  `json:"error,omitempty"`
}

func (r Row) summary() string {
	if r.Err != "" {
		return "FAILED: " + r.Err
	}
	return fmt.Sprintf("start %s s, first copy %.1f s, full copy %.1f s, state %d offsets, peak RSS %s MiB (%.1f KiB/partition), rebalance %.1f s, groups migrate %.1f s, verify %.1f s",
		floats(r.StartSeconds), r.FirstCopySeconds, r.FullCopySeconds, r.StateOffsets, mib(r.MaxRSS), r.rssPerPartition()/1024, r.RebalanceSeconds, r.GroupsMigrateSeconds, r.VerifySeconds)
}

// rssPerPartition is the largest process's peak RSS over P, in bytes.
func (r Row) rssPerPartition() float64 { return float64(r.MaxRSS) / float64(r.Partitions) }

// Report is the whole run, as written to JSON.
type Report struct {
	Started      time.Time      `json:"started"`
	Host         runinfo.Host   `json:"host"`
	Options      map[string]any `json:"options"`
	SourceDigest string         `json:"kmigrate_source_digest"`
	// LoadBefore and LoadAfter are /proc/loadavg at the start and end.
	LoadBefore   string  `json:"load_before"`
	LoadAfter    string  `json:"load_after"`
	Rows         []Row   `json:"rows"`
	TotalSeconds float64 `json:"total_seconds"`
}

func reportOptions(o options) map[string]any {
	return map[string]any{
		"partitions": o.partitions, "processes": o.procs, "partitions_per_topic": o.perTopic,
		"records_per_partition": o.records, "value_bytes": o.size, "units": o.units,
		"session_timeout": o.sessionTimeout.String(), "groups": o.groups, "group_topics": o.groupTopics,
		"brokers_per_cluster": o.brokers,
	}
}

func mib(n int64) string { return fmt.Sprintf("%.0f", float64(n)/(1<<20)) }

func floats(fs []float64) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("%.1f", f))
	}
	return strings.Join(s, "/")
}

// metric is one measured cost of a row, for the growth table.
type metric struct {
	name string
	get  func(Row) float64
	// fixed: the work does not grow with P (the same groups and
	// partitions per group at every size), so linear is x1, not xP.
	fixed bool
}

var metrics = []metric{
	{"start s (slowest process)", func(r Row) float64 { return slices.Max(append([]float64{0}, r.StartSeconds...)) }, false},
	{"first record written s", func(r Row) float64 { return r.FirstWriteSeconds }, false},
	{"first copy committed s", func(r Row) float64 { return r.FirstCopySeconds }, false},
	{"full copy s", func(r Row) float64 { return r.FullCopySeconds }, false},
	{"state topic offsets", func(r Row) float64 { return float64(r.StateOffsets) }, false},
	{"peak RSS MiB (largest process)", func(r Row) float64 { return float64(r.MaxRSS) / (1 << 20) }, false},
	{"rebalance s", func(r Row) float64 { return r.RebalanceSeconds }, false},
	{"groups migrate s", func(r Row) float64 { return r.GroupsMigrateSeconds }, true},
	{"verify s", func(r Row) float64 { return r.VerifySeconds }, false},
}

// growth is how a metric grew from the smallest to the largest size with
// the same process count: the ratio of the values over the ratio of the
// sizes (1 is linear; 2 means twice as much per partition at the larger
// size). ok is false without two sizes or with a zero smaller value.
func growth(small, large Row, get func(Row) float64) (ratio, perPartition float64, ok bool) {
	a, b := get(small), get(large)
	if small.Partitions == large.Partitions || a <= 0 || b <= 0 {
		return 0, 0, false
	}
	ratio = b / a
	return ratio, ratio / (float64(large.Partitions) / float64(small.Partitions)), true
}

// printTable writes the human summary.
func (rep *Report) printTable(w io.Writer) {
	fmt.Fprintf(w, "\nscalebench: %v partitions (%v per topic), %v records x %v B per partition, --units %v, --session-timeout %v, %v groups; %d CPUs; load %s -> %s; kmigrate sources %s\n\n",
		rep.Options["partitions"], rep.Options["partitions_per_topic"], rep.Options["records_per_partition"], rep.Options["value_bytes"],
		rep.Options["units"], rep.Options["session_timeout"], rep.Options["groups"], rep.Host.CPUs, rep.LoadBefore, rep.LoadAfter, rep.SourceDigest)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "P\tprocs\tstart s\tfirst write / commit s\tfull copy s\tstate offsets\tstate bytes\tpeak RSS MiB\tKiB/partition\tCPU s\trebalance s (own all / marker)\tgroups migrate s\tverify s\t")
	for _, r := range rep.Rows {
		if r.Err != "" {
			fmt.Fprintf(tw, "%d\t%d\tFAILED\t\t\t\t\t\t\t\t\t\t\t\n", r.Partitions, r.Procs)
			continue
		}
		reb := "-"
		if r.Procs == 2 {
			reb = fmt.Sprintf("%.1f (%.1f / %.1f)", r.RebalanceSeconds, r.OwnAllSeconds, r.MarkersSeconds)
		}
		bytes := "n/a"
		if r.StateBytes >= 0 {
			bytes = fmt.Sprintf("%d", r.StateBytes)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%.1f / %.1f\t%.1f\t%d\t%s\t%s\t%.1f\t%.1f\t%s\t%.1f\t%.1f\t\n",
			r.Partitions, r.Procs, floats(r.StartSeconds), r.FirstWriteSeconds, r.FirstCopySeconds, r.FullCopySeconds, r.StateOffsets, bytes,
			mib(r.MaxRSS), r.rssPerPartition()/1024, r.CPUSeconds, reb, r.GroupsMigrateSeconds, r.VerifySeconds)
	}
	tw.Flush()
	rep.printGrowth(w)
	for _, r := range rep.Rows {
		if r.StateBytesNote != "" {
			fmt.Fprintf(w, "P=%d procs=%d: state bytes not available: %s\n", r.Partitions, r.Procs, r.StateBytesNote)
			break
		}
	}
	for _, r := range rep.Rows {
		if r.Err != "" {
			fmt.Fprintf(w, "\nP=%d procs=%d failed: %s\n", r.Partitions, r.Procs, r.Err)
		}
	}
	fmt.Fprintf(w, "whole run %.0f s\n", rep.TotalSeconds)
}

// printGrowth writes, per process count, how each metric grew from the
// smallest to the largest P.
func (rep *Report) printGrowth(w io.Writer) {
	byProcs := map[int][]Row{}
	for _, r := range rep.Rows {
		if r.Err == "" {
			byProcs[r.Procs] = append(byProcs[r.Procs], r)
		}
	}
	for _, n := range []int{1, 2} {
		rows := byProcs[n]
		if len(rows) < 2 {
			continue
		}
		small, large := rows[0], rows[len(rows)-1]
		fmt.Fprintf(w, "\ngrowth, %d process(es), P %d -> %d (x%.0f): value ratio, and per-partition ratio (1 = linear, > 1 worse than linear)\n",
			n, small.Partitions, large.Partitions, float64(large.Partitions)/float64(small.Partitions))
		for _, m := range metrics {
			if ratio, per, ok := growth(small, large, m.get); ok {
				flag := ""
				switch {
				case m.fixed && ratio > 1.5:
					flag = "  <- the same groups cost more with more partitions: a per-partition cost in each group's move"
				case !m.fixed && per > 1.5:
					flag = "  <- worse than linear"
				}
				fmt.Fprintf(w, "  %-32s %10.2f -> %10.2f  x%.1f  per partition x%.2f%s\n", m.name, m.get(small), m.get(large), ratio, per, flag)
			}
		}
	}
}

// writeJSON writes the report to dir/scalebench-<timestamp>.json.
func (rep *Report) writeJSON(dir string) (string, error) {
	return runinfo.WriteJSON(dir, rep.Started, "-scalebench.json", rep)
}
