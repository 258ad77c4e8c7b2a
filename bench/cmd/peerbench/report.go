package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
)

// Report is one run's results, written as JSON and as markdown.
type Report struct {
	RunID        string       `json:"run_id"`
	Started      time.Time    `json:"started"`
	TotalSeconds float64      `json:"total_seconds"`
	Host         runinfo.Host `json:"host"`
	SourceDigest string       `json:"source_digest"`
	Kafka        string       `json:"kafka_version"`
	MM2          string       `json:"mm2_version"`
	Clusters     string       `json:"clusters"`
	Rows         []Row        `json:"throughput"`
	Scenarios    []Scenario   `json:"scenarios"`
}

// failure returns an error naming every row and scenario that did not pass.
func (rep *Report) failure() error {
	var errs []error
	for _, r := range rep.Rows {
		if !r.ok() {
			errs = append(errs, fmt.Errorf("%s %s: %s%s", r.Workload, r.Label, r.Check, errSuffix(r.Err)))
		}
	}
	for _, s := range rep.Scenarios {
		if !s.ok() {
			errs = append(errs, fmt.Errorf("scenario %d %s: %s%s", s.N, s.Tool, s.Check, errSuffix(s.Err)))
		}
	}
	return errors.Join(errs...)
}

// markdown returns the two tables as BENCHMARKS.md shows them.
func (rep *Report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nRun %s: Kafka %s source and target (%s); MirrorMaker 2 %s; kmigrate %s (source digest %s); %d CPUs %s, %s; %.0f s in all.\n",
		rep.RunID, rep.Kafka, rep.Clusters, rep.MM2, rep.Host.Kmigrate, rep.SourceDigest, rep.Host.CPUs, rep.Host.CPUModel, rep.Host.MemTotal, rep.TotalSeconds)
	if len(rep.Rows) > 0 {
		b.WriteString("\n| workload | tool | records/s | MB/s | steady records/s | wall s | CPU s | CPU s/GB | peak RSS MiB | first record s | check | added |\n")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
		for _, r := range rep.Rows {
			perGB := "-"
			if r.Bytes > 0 {
				perGB = fmt.Sprintf("%.1f", r.CPUSeconds/(float64(r.Bytes)/1e9))
			}
			check := r.Check
			if r.Err != "" {
				check = "FAILED: " + firstLine(r.Err)
			} else if !r.ok() {
				check = "FAILED: " + r.Check
			}
			added := r.Added
			if len(r.Topics) > 0 {
				added += "; topics " + strings.Join(r.Topics, ", ")
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.1f | %.0f | %.1f | %.1f | %s | %d | %.2f | %s | %s |\n",
				r.Workload, r.Label, r.RecordsPerSec, r.MBPerSec, r.SteadyRecordsPerSec, r.WallSeconds, r.CPUSeconds, perGB, r.MaxRSS>>20, r.FirstRecordSeconds, check, added)
		}
	}
	for _, r := range rep.Rows {
		if r.Detail != "" && r.Workload == rep.Rows[0].Workload {
			fmt.Fprintf(&b, "\n- %s: %s\n", r.Label, r.Detail)
		}
	}
	if len(rep.Scenarios) > 0 {
		b.WriteString("\n| scenario | tool | records | read on source | read on target | re-delivered | skipped | not on the source (aborted) | check | how the group moved |\n")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|---|\n")
		for _, s := range rep.Scenarios {
			check := "ok"
			if !s.ok() {
				check = "FAILED: " + firstLine(s.Check+errSuffix(s.Err))
			}
			fmt.Fprintf(&b, "| %d %s | %s | %d | %d | %d | %d | %d | %d | %s | %s |\n",
				s.N, s.Title, s.Tool, s.Records, s.ReadOnSource, s.ReadOnTarget, s.Redelivered, s.Skipped, s.Extra, check, firstLine(s.Detail))
		}
	}
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", "/")
}

// write writes <dir>/<run id>-peers.json and .md and returns the JSON path.
func (rep *Report) write(dir, md string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, rep.RunID+"-peers.json")
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	return path, os.WriteFile(strings.TrimSuffix(path, ".json")+".md", []byte(md), 0o644)
}
