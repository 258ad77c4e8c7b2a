package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// Result is one measurement.
type Result struct {
	// Name is a short stable id: consume, produce, mirror, mirror-low, kcat.
	Name string `json:"name"`
	// Label says what was measured, for people.
	Label string `json:"label"`
	// Topic is what was read (consume) or written.
	Topic string `json:"topic"`
	// MemoryBudget is kmigrate's --memory-budget, for mirror runs.
	MemoryBudget int64 `json:"memory_budget_bytes,omitempty"`
	// Records and Bytes (key + value) are what the check found.
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	// WallSeconds is the measured processes' wall time, start to exit.
	WallSeconds   float64 `json:"wall_seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	// MBPerSec counts 1 MB as 1e6 bytes of key and value.
	MBPerSec float64 `json:"mb_per_sec"`
	// MaxRSS is the measured process's peak RSS in bytes; for several
	// processes (kcat pipes), the sum of their peaks.
	MaxRSS int64 `json:"max_rss_bytes"`
	// CPUSeconds is user + system time of the measured processes.
	CPUSeconds float64 `json:"cpu_seconds"`
	// ClusterCPUSeconds is the sandbox's (both clusters') CPU time during
	// the measured processes' run, on Linux.
	ClusterCPUSeconds float64 `json:"cluster_cpu_seconds"`
	// Processes is how many processes were measured.
	Processes int `json:"processes"`
	// Check is "ok" or what is wrong with the copy.
	Check string `json:"check"`
	// Detail is extra information (mirror transactions, work time).
	Detail string `json:"detail,omitempty"`
	// Err is set when the measurement itself failed.
	Err string `json:"error,omitempty"`
}

func (r *Result) setUsage(g proc.Group) {
	r.WallSeconds = g.Wall.Seconds()
	r.MaxRSS = g.MaxRSSSum()
	r.CPUSeconds = g.CPU().Seconds()
	r.Processes = len(g.Procs)
}

// setCheck records the check of sums against want.
func (r *Result) setCheck(want, got []workload.Sum, digests bool) {
	for _, s := range got {
		r.Records += s.Records
		r.Bytes += s.Bytes
	}
	if r.WallSeconds > 0 {
		r.RecordsPerSec = float64(r.Records) / r.WallSeconds
		r.MBPerSec = float64(r.Bytes) / 1e6 / r.WallSeconds
	}
	var diff string
	if digests {
		diff = workload.Compare(want, got)
	} else {
		diff = workload.CompareCounts(want, got)
	}
	switch {
	case diff != "":
		r.Check = "FAILED: " + diff
	case digests:
		r.Check = "ok: counts and digests match"
	default:
		r.Check = "ok: counts match"
	}
}

func (r *Result) ok() bool { return r.Err == "" && strings.HasPrefix(r.Check, "ok") }

// Report is the whole run, as written to JSON.
type Report struct {
	Started  time.Time      `json:"started"`
	Host     Host           `json:"host"`
	Workload *workload.Spec `json:"workload"`
	// Clusters says where the run happened: "kmigrate sandbox", the real
	// Kafka pair of --real, or the bootstrap servers of existing clusters
	// (--source, --target).
	Clusters string `json:"clusters"`
	// Brokers is the brokers per cluster of the sandbox or of --real (0 on
	// existing clusters).
	Brokers int `json:"brokers_per_cluster"`
	// SourceDigest identifies the kmigrate sources measured (see
	// sourceDigest): the tree may change between runs.
	SourceDigest string `json:"kmigrate_source_digest"`
	// SeedSeconds is how long seeding the source took (not measured).
	SeedSeconds float64  `json:"seed_seconds"`
	Results     []Result `json:"results"`
	// MirrorVsBaseline is mirror records/s over the slower of the two
	// franz-go baselines.
	MirrorVsBaseline float64 `json:"mirror_vs_min_consume_produce"`
	// Sandbox is what the clusters' process used over the whole run (zero
	// on existing clusters).
	SandboxMaxRSS     int64   `json:"sandbox_max_rss_bytes"`
	SandboxCPUSeconds float64 `json:"sandbox_cpu_seconds"`
	SandboxWall       float64 `json:"sandbox_wall_seconds"`
	TotalSeconds      float64 `json:"total_seconds"`
}

// sandboxClusters is Report.Clusters of a run on a `kmigrate sandbox`.
const sandboxClusters = "kmigrate sandbox"

// sandbox says whether the run used a sandbox, whose CPU it measures.
func (rep *Report) sandbox() bool { return rep.Clusters == sandboxClusters }

// Host describes where the run happened.
type Host = runinfo.Host

func (rep *Report) result(name string) *Result {
	for i := range rep.Results {
		if rep.Results[i].Name == name {
			return &rep.Results[i]
		}
	}
	return nil
}

// computeRatio sets MirrorVsBaseline when all three numbers exist.
func (rep *Report) computeRatio() {
	a, b, c := rep.result("consume"), rep.result("produce"), rep.result("mirror")
	if a == nil || b == nil || c == nil || !a.ok() || !b.ok() || !c.ok() {
		return
	}
	if base := min(a.RecordsPerSec, b.RecordsPerSec); base > 0 {
		rep.MirrorVsBaseline = c.RecordsPerSec / base
	}
}

func mib(n int64) string { return fmt.Sprintf("%.0f", float64(n)/(1<<20)) }

// printTable writes the human summary.
func (rep *Report) printTable(w io.Writer) {
	where := fmt.Sprintf("sandbox with %d broker(s) per cluster", rep.Brokers)
	switch {
	case rep.Brokers == 0:
		where = "existing clusters: " + rep.Clusters
	case !rep.sandbox():
		where = rep.Clusters
	}
	fmt.Fprintf(w, "\nmirrorbench: %d records x %d B values (%.1f MB key+value) over %d partitions; %s; %d CPUs; kmigrate sources %s\n\n",
		rep.Workload.Records, rep.Workload.Size, float64(rep.Workload.Bytes())/1e6, rep.Workload.Partitions, where, rep.Host.CPUs, rep.SourceDigest)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\trecords\twall s\trecords/s\tMB/s\tpeak RSS MiB\tCPU s\tclusters CPU s\tcheck\t")
	for _, r := range rep.Results {
		check := r.Check
		if r.Err != "" {
			check = "ERROR (see below)"
		}
		clusterCPU := "-"
		if rep.sandbox() {
			clusterCPU = fmt.Sprintf("%.1f", r.ClusterCPUSeconds)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.1f\t%s\t%.1f\t%s\t%s\t\n",
			r.Label, r.Records, r.WallSeconds, r.RecordsPerSec, r.MBPerSec, mib(r.MaxRSS), r.CPUSeconds, clusterCPU, check)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if rep.MirrorVsBaseline > 0 {
		a, b := rep.result("consume"), rep.result("produce")
		slower := "consume-only"
		if b.RecordsPerSec < a.RecordsPerSec {
			slower = "produce-only"
		}
		fmt.Fprintf(w, "ratio (c) mirror / min((a), (b)) = %.2f  (the slower baseline is %s)\n", rep.MirrorVsBaseline, slower)
	} else {
		fmt.Fprintln(w, "ratio (c) / min((a), (b)): not available (a measurement failed or was skipped)")
	}
	if c, d := rep.result("mirror"), rep.result("kcat"); c != nil && d != nil && c.ok() && d.ok() && d.RecordsPerSec > 0 {
		fmt.Fprintf(w, "ratio (c) mirror / (d) kcat = %.2f\n", c.RecordsPerSec/d.RecordsPerSec)
	}
	if c, e := rep.result("mirror"), rep.result("copy"); c != nil && e != nil && c.ok() && e.ok() && e.RecordsPerSec > 0 {
		fmt.Fprintf(w, "ratio (c) mirror / (e) bare consume-then-produce copy = %.2f\n", c.RecordsPerSec/e.RecordsPerSec)
	}
	for _, r := range rep.Results {
		if r.MemoryBudget == 0 || r.Err != "" {
			continue
		}
		// Each process has the budget: compare the sum of their peaks
		// with the sum of their budgets.
		budget, procs := r.MemoryBudget*int64(max(r.Processes, 1)), ""
		if r.Processes > 1 {
			procs = fmt.Sprintf(" x %d processes", r.Processes)
		}
		verdict := "within the budget"
		if r.MaxRSS > budget {
			verdict = fmt.Sprintf("EXCEEDS the budget by %s MiB (%.2fx)", mib(r.MaxRSS-budget), float64(r.MaxRSS)/float64(budget))
		}
		fmt.Fprintf(w, "memory budget %s MiB%s: peak RSS %s MiB, %s, for %.0f MB copied (%s)\n", mib(r.MemoryBudget), procs, mib(r.MaxRSS), verdict, float64(r.Bytes)/1e6, r.Name)
	}
	if rep.sandbox() {
		fmt.Fprintf(w, "sandbox (both clusters, one process): peak RSS %s MiB, CPU %.0f s over %.0f s; ",
			mib(rep.SandboxMaxRSS), rep.SandboxCPUSeconds, rep.SandboxWall)
	}
	fmt.Fprintf(w, "seeding took %.1f s; whole run %.0f s\n", rep.SeedSeconds, rep.TotalSeconds)
	for _, r := range rep.Results {
		if r.Detail != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Label, r.Detail)
		}
	}
	for _, r := range rep.Results {
		if r.Err != "" {
			fmt.Fprintf(w, "\n%s failed: %s\n", r.Label, r.Err)
		}
	}
}

// writeJSON writes the report to dir/<timestamp>.json and returns the path.
func (rep *Report) writeJSON(dir string) (string, error) {
	return runinfo.WriteJSON(dir, rep.Started, ".json", rep)
}
