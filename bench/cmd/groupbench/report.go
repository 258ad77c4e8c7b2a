package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
	"github.com/kmigrate/kmigrate/internal/groups"
)

// Method is one measured method, as reported.
type Method struct {
	// Name is a short stable id: map, search, search-sequential.
	Name  string `json:"name"`
	Label string `json:"label"`
	// Measured is what the method's process reported (its own timing,
	// requests); Results are dropped from the report.
	Measured
	// ProcessSeconds, CPUSeconds and MaxRSS are the child process's wall
	// time (start to exit, including start up and connecting), CPU time
	// and peak resident memory; 0 when run in process.
	ProcessSeconds float64 `json:"process_seconds"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	MaxRSS         int64   `json:"max_rss_bytes"`
	// ClusterCPUSeconds is the sandbox's CPU time meanwhile.
	ClusterCPUSeconds float64 `json:"cluster_cpu_seconds"`
	// RequestsPerPartition is Requests divided by the partitions.
	RequestsPerPartition map[string]float64 `json:"requests_per_partition"`
	// Fetches is Search's fetches per partition (search methods).
	Fetches *FetchStats `json:"fetches_per_partition,omitempty"`
	// Check is "ok..." or what is wrong.
	Check string `json:"check"`
	Err   string `json:"error,omitempty"`
}

// Report is the whole run, as written to JSON.
type Report struct {
	Started time.Time    `json:"started"`
	Host    runinfo.Host `json:"host"`
	// SourceDigest identifies the kmigrate sources measured.
	SourceDigest string `json:"kmigrate_source_digest"`
	Shape        Shape  `json:"shape"`
	// Clusters says where the run happened: "" for a sandbox, or the
	// existing clusters' bootstrap servers.
	Clusters string `json:"clusters,omitempty"`
	// Brokers is the sandbox's brokers per cluster (0 on existing clusters).
	Brokers int      `json:"brokers_per_cluster"`
	Setup   Setup    `json:"setup"`
	Methods []Method `json:"methods"`
	// Verify is the result of reading the record at every translated
	// offset (not timed as part of a method).
	Verify        string  `json:"verify"`
	VerifySeconds float64 `json:"verify_seconds"`
	// Sandbox is what the clusters' process used over the whole run.
	SandboxMaxRSS     int64   `json:"sandbox_max_rss_bytes"`
	SandboxCPUSeconds float64 `json:"sandbox_cpu_seconds"`
	SandboxWall       float64 `json:"sandbox_wall_seconds"`
	TotalSeconds      float64 `json:"total_seconds"`
	// Failures lists every failed check; empty on success.
	Failures []string `json:"failures,omitempty"`
}

func (rep *Report) fail(format string, args ...any) {
	rep.Failures = append(rep.Failures, fmt.Sprintf(format, args...))
}

func (rep *Report) method(name string) *Method {
	for i := range rep.Methods {
		if rep.Methods[i].Name == name {
			return &rep.Methods[i]
		}
	}
	return nil
}

func mib(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(n)/(1<<20))
}

// requests formats requests and response bytes per partition, most
// requests first.
func requests(m Method, partitions int) string {
	keys := make([]string, 0, len(m.Requests))
	for k := range m.Requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m.Requests[a] != m.Requests[b] {
			if m.Requests[a] > m.Requests[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.3g (%s)", k, m.RequestsPerPartition[k], size(float64(m.ResponseBytes[k])/float64(partitions))))
	}
	return strings.Join(parts, ", ")
}

// size formats a byte count.
func size(b float64) string {
	switch {
	case b >= 1e6:
		return fmt.Sprintf("%.2f MB", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kB", b/1e3)
	}
	return fmt.Sprintf("%.0f B", b)
}

// printTable writes the human summary.
func (rep *Report) printTable(w io.Writer) {
	s, st := rep.Shape, rep.Setup
	where := fmt.Sprintf("sandbox with %d broker(s) per cluster", rep.Brokers)
	if rep.Clusters != "" {
		where = "existing clusters: " + rep.Clusters
	}
	fmt.Fprintf(w, "\ngroupbench: one group over %d partitions x %d records (%d B values, %d B keys); %s; %d CPUs; kmigrate sources %s\n\n",
		s.Partitions, s.Records, s.Size, 11, where, rep.Host.CPUs, rep.SourceDigest)
	fmt.Fprintf(w, "setup: create topics %.1fs; seed %d records (%.0f MB keys+values) %.1fs; copy %.1fs (%d records, %d transactions: %s); group commit %.2fs; inspect %.1fs\n",
		st.CreateSeconds, st.SeedRecords, float64(st.SeedBytes)/1e6, st.SeedSeconds, st.CopySeconds, st.CopiedRecords, st.Transactions, st.Copy, st.CommitSeconds, st.InspectSeconds)
	fmt.Fprintf(w, "target: %d offsets in the topic; state topic: %d records (%.1f MB), %d transaction markers; offset maps: %d runs, %.1f MB encoded\n",
		st.TargetOffsets, st.StateRecords, float64(st.StateBytes)/1e6, st.StateMarkers, st.OffsetMapRuns, float64(st.OffsetMapBytes)/1e6)
	fmt.Fprintf(w, "group: committed at 0 in %d partitions, at the end in %d, inside in %d\n\n", st.CommittedAt0, st.CommittedAtEnd, st.CommittedInside)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\twall s\tms/partition\tfetches/partition mean\tp50\tp90\tmax\tbound\tMB read\tprocess s\tpeak RSS MiB\tCPU s\tclusters CPU s\t")
	for _, m := range rep.Methods {
		if m.Err != "" {
			fmt.Fprintf(tw, "%s\tERROR\t\t\t\t\t\t\t\t\t\t\t\t\n", m.Label)
			continue
		}
		fetch := fmt.Sprintf("%.3g\t-\t-\t-\t-", m.RequestsPerPartition["Fetch"])
		if f := m.Fetches; f != nil {
			fetch = fmt.Sprintf("%.1f\t%d\t%d\t%d\t%d", f.Mean, f.P50, f.P90, f.Max, f.Bound)
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%s\t%.1f\t%.2f\t%s\t%.1f\t%.1f\t\n",
			m.Label, m.Seconds, 1000*m.Seconds/float64(s.Partitions), fetch, float64(m.BytesRead)/1e6,
			m.ProcessSeconds, mib(m.MaxRSS), m.CPUSeconds, m.ClusterCPUSeconds)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if m := rep.method("map"); m != nil && m.Err == "" {
		fmt.Fprintf(w, "(a) map phases: state.Load %.3fs (%d state records), FromSnapshot x%d %.3fs, Translate x%d %.4fs; fetching the group's offsets from the source (needed by every method, not in the wall time) %.3fs\n",
			m.StateLoadSeconds, st.StateRecords, s.Partitions, m.DecodeSeconds, s.Partitions, m.TranslateSeconds, m.GroupOffsetsSeconds)
	}
	if f := rep.method("search"); f != nil && f.Fetches != nil {
		fmt.Fprintf(w, "(b) fetch bound 2*ceil(log2 n)+4 for the largest partition (n = %d offsets): %d; partitions over their bound: %d\n",
			f.Fetches.MaxN, f.Fetches.Bound, f.Fetches.OverBound)
	}
	if f := rep.method("search"); f != nil && f.Err == "" && f.Requests["Fetch"] > 0 {
		fmt.Fprintf(w, "(b) a Search fetch returned %s on average (it asks for at most %d KiB; a broker returns at least one whole record batch)\n",
			size(float64(f.ResponseBytes["Fetch"])/float64(f.Requests["Fetch"])), groups.DefaultFetchMaxBytes>>10)
	}
	fmt.Fprintln(w, "\nrequests per partition (response bytes per partition), all requests of the method's clients:")
	for _, m := range rep.Methods {
		if m.Err == "" {
			fmt.Fprintf(w, "  %s: %s\n", m.Label, requests(m, s.Partitions))
		}
	}
	fmt.Fprintln(w)
	for _, m := range rep.Methods {
		fmt.Fprintf(w, "%s: check %s\n", m.Label, m.Check)
	}
	fmt.Fprintf(w, "verification read of every translated offset (%.1fs, not timed above): %s\n", rep.VerifySeconds, rep.Verify)
	fmt.Fprintf(w, "harness peak RSS (seeding and the mirror run in it): %s MiB after seeding, %s MiB after copying; ", mib(st.SeedMaxRSS), mib(st.HarnessMaxRSS))
	if rep.Clusters == "" {
		fmt.Fprintf(w, "sandbox (both clusters, one process): peak RSS %s MiB, CPU %.0f s over %.0f s, data directory %.1f GB; ",
			mib(rep.SandboxMaxRSS), rep.SandboxCPUSeconds, rep.SandboxWall, float64(st.DataDirBytes)/1e9)
	}
	fmt.Fprintf(w, "whole run %.0f s\n", rep.TotalSeconds)
	for _, m := range rep.Methods {
		if m.Err != "" {
			fmt.Fprintf(w, "\n%s failed: %s\n", m.Label, m.Err)
		}
	}
	if len(rep.Failures) > 0 {
		fmt.Fprintf(w, "\nFAILED:\n  %s\n", strings.Join(rep.Failures, "\n  "))
	}
}

// writeJSON writes the report to out: a .json file, or a directory in
// which the file is named by the start time. It returns the path.
func (rep *Report) writeJSON(out string) (string, error) {
	path := out
	if !strings.HasSuffix(out, ".json") {
		path = filepath.Join(out, rep.Started.UTC().Format("20060102T150405Z")+".json")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}
