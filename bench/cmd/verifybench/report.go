package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// Result is one measurement.
type Result struct {
	// Name is a short stable id: consume-source, consume-target,
	// consume-both, verify, verify-sample.
	Name  string `json:"name"`
	Label string `json:"label"`
	// Records is what the process read: records consumed, or for
	// verify the records its fetches returned (both clusters).
	Records int64 `json:"records"`
	// WallSeconds is the measured process's wall time, start to exit;
	// WorkSeconds the time of the work as the process reports it (without
	// process start and connecting).
	WallSeconds float64 `json:"wall_seconds"`
	WorkSeconds float64 `json:"work_seconds"`
	// SourceRecordsPerSec and SourceMBPerSec are the source topic's
	// records (and key+value bytes, 1 MB = 10^6 bytes) over the wall time:
	// how fast the copy is checked (or, for (a) and (b), one side read).
	SourceRecordsPerSec float64 `json:"source_records_per_sec"`
	SourceMBPerSec      float64 `json:"source_mb_per_sec"`
	MaxRSS              int64   `json:"max_rss_bytes"`
	CPUSeconds          float64 `json:"cpu_seconds"`
	ClusterCPUSeconds   float64 `json:"cluster_cpu_seconds"`
	Check               string  `json:"check"`
	Detail              string  `json:"detail,omitempty"`
	Err                 string  `json:"error,omitempty"`
}

func (r *Result) ok() bool { return r.Err == "" && strings.HasPrefix(r.Check, "ok") }

// Report is the whole run, as written to JSON.
type Report struct {
	Started  time.Time      `json:"started"`
	Host     runinfo.Host   `json:"host"`
	Workload *workload.Spec `json:"workload"`
	// Clusters says where the run happened: "kmigrate sandbox", or the
	// existing clusters' bootstrap servers.
	Clusters string `json:"clusters"`
	// Brokers is the sandbox's brokers per cluster (0 on existing clusters).
	Brokers       int      `json:"brokers_per_cluster"`
	Parallel      int      `json:"verify_parallel"`
	SourceDigest  string   `json:"kmigrate_source_digest"`
	SeedSeconds   float64  `json:"seed_seconds"`
	MirrorSeconds float64  `json:"mirror_seconds"`
	MirrorDetail  string   `json:"mirror_detail"`
	Results       []Result `json:"results"`
	// VerifyVsBoth is (c)'s wall time over (d)'s: verify's throughput as a
	// fraction of reading both clusters at once. VerifyVsSequential uses
	// (a) + (b), reading one cluster after the other.
	VerifyVsBoth       float64 `json:"verify_vs_consume_both"`
	VerifyVsSequential float64 `json:"verify_vs_consume_sequential"`
	SandboxMaxRSS      int64   `json:"sandbox_max_rss_bytes"`
	SandboxCPUSeconds  float64 `json:"sandbox_cpu_seconds"`
	TotalSeconds       float64 `json:"total_seconds"`
}

func (rep *Report) result(name string) *Result {
	for i := range rep.Results {
		if rep.Results[i].Name == name {
			return &rep.Results[i]
		}
	}
	return nil
}

// compute fills the rates and ratios.
func (rep *Report) compute() {
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.WallSeconds > 0 {
			r.SourceRecordsPerSec = float64(rep.Workload.Records) / r.WallSeconds
			r.SourceMBPerSec = float64(rep.Workload.Bytes()) / 1e6 / r.WallSeconds
		}
	}
	a, b, c, d := rep.result("consume-source"), rep.result("consume-target"), rep.result("consume-both"), rep.result("verify")
	if d == nil || !d.ok() || d.WallSeconds <= 0 {
		return
	}
	if c != nil && c.ok() {
		rep.VerifyVsBoth = c.WallSeconds / d.WallSeconds
	}
	if a != nil && b != nil && a.ok() && b.ok() {
		rep.VerifyVsSequential = (a.WallSeconds + b.WallSeconds) / d.WallSeconds
	}
}

func mib(n int64) string { return fmt.Sprintf("%.0f", float64(n)/(1<<20)) }

func (rep *Report) printTable(w io.Writer) {
	where := fmt.Sprintf("sandbox with %d broker(s) per cluster", rep.Brokers)
	if rep.Brokers == 0 {
		where = "existing clusters: " + rep.Clusters
	}
	fmt.Fprintf(w, "\nverifybench: %d records x %d B values (%.1f MB key+value) over %d partitions, mirrored (%s) in %.1fs; %s; %d CPUs; kmigrate sources %s\n\n",
		rep.Workload.Records, rep.Workload.Size, float64(rep.Workload.Bytes())/1e6, rep.Workload.Partitions, rep.MirrorDetail, rep.MirrorSeconds,
		where, rep.Host.CPUs, rep.SourceDigest)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\twall s\tsource records/s\tsource MB/s\tpeak RSS MiB\tCPU s\tclusters CPU s\tcheck\t")
	for _, r := range rep.Results {
		check := r.Check
		if r.Err != "" {
			check = "ERROR (see below)"
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%.1f\t%s\t%.1f\t%.1f\t%s\t\n",
			r.Label, r.WallSeconds, r.SourceRecordsPerSec, r.SourceMBPerSec, mib(r.MaxRSS), r.CPUSeconds, r.ClusterCPUSeconds, check)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if rep.VerifyVsBoth > 0 {
		fmt.Fprintf(w, "ratio (d) verify / (c) consume both at once = %.2f (wall time of (c) over (d))\n", rep.VerifyVsBoth)
	}
	if rep.VerifyVsSequential > 0 {
		fmt.Fprintf(w, "ratio (d) verify / ((a) + (b)) consume one after the other = %.2f\n", rep.VerifyVsSequential)
	}
	if rep.Brokers > 0 {
		fmt.Fprintf(w, "sandbox (both clusters, one process): peak RSS %s MiB, CPU %.0f s; ", mib(rep.SandboxMaxRSS), rep.SandboxCPUSeconds)
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
	return runinfo.WriteJSON(dir, rep.Started, "-verify.json", rep)
}
