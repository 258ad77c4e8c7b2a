package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
)

// grace is how long a process has to exit after SIGINT.
const grace = 30 * time.Second

// bench is one run's shared state.
type bench struct {
	o        options
	bin, dir string
	runID    string
	src, tgt []string
	self     string // this binary, re-executed for the clusters
	cls      []*cluster
}

func logf(format string, args ...any) { runinfo.Logf(format, args...) }

func run(ctx context.Context, o options) (err error) {
	begin := time.Now()
	rep := &Report{Started: begin, Host: runinfo.ThisHost(), Options: reportOptions(o)}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.LoadBefore = strings.TrimSpace(string(la))
	}
	root, err := runinfo.ModuleRoot()
	if err != nil {
		return err
	}
	if o.resultsDir == "" {
		o.resultsDir = filepath.Join(root, "bench", "results")
	}
	if err := os.MkdirAll(o.resultsDir, 0o755); err != nil { // profiles go there during the run
		return err
	}
	dir, dropDir, err := runinfo.WorkDir(o.workDir, "scalebench-", o.keep)
	if err != nil {
		return err
	}
	defer dropDir(&err)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b := &bench{o: o, self: self, dir: dir, runID: begin.UTC().Format("20060102t150405")}
	logf("building kmigrate from %s", root)
	if b.bin, rep.Host.Kmigrate, err = runinfo.BuildKmigrate(ctx, root, dir); err != nil {
		return err
	}
	if rep.SourceDigest, err = runinfo.SourceDigest(root); err != nil {
		return err
	}
	for _, p := range o.partitions {
		for _, n := range o.procs {
			// A fresh sandbox per row: every row starts on empty
			// clusters, and kfake's memory of the last row is gone.
			r := b.row(ctx, p, n)
			rep.Rows = append(rep.Rows, r)
			logf("P=%d procs=%d: %s", p, n, r.summary())
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.LoadAfter = strings.TrimSpace(string(la))
	}
	rep.TotalSeconds = time.Since(begin).Seconds()
	rep.printTable(os.Stdout)
	path, err := rep.writeJSON(o.resultsDir)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Printf("results written to %s\n", path)
	for _, r := range rep.Rows {
		if r.Err != "" {
			return fmt.Errorf("row P=%d procs=%d did not pass: %s", r.Partitions, r.Procs, r.Err)
		}
	}
	return nil
}

// row starts the clusters, seeds P partitions and measures n processes.
// Each row gets fresh clusters, so no row pays for another's partitions.
func (b *bench) row(ctx context.Context, p, n int) (r Row) {
	r = Row{Partitions: p, Procs: n, Units: b.o.units, Records: int64(p) * int64(b.o.records)}
	var cls []*cluster
	defer func() {
		for i, c := range cls {
			res := c.stop()
			r.ClusterMaxRSS += res.usage.MaxRSS
			r.ClusterCPUSeconds += res.usage.CPU.Seconds()
			if res.err != nil && r.Err == "" {
				r.Err = proc.ExitError(fmt.Errorf("cluster %d: %w", i, res.err), c.stderr).Error()
			}
		}
	}()
	for range 2 {
		c, err := startCluster(ctx, b.self, b.o.brokers)
		if err != nil {
			r.Err = err.Error()
			return r
		}
		cls = append(cls, c)
	}
	b.cls, b.src, b.tgt = cls, cls[0].bootstrap, cls[1].bootstrap
	if err := b.measure(ctx, &r); err != nil {
		r.Err = err.Error()
	}
	return r
}

// clusterCPU is the CPU time both cluster processes have used so far.
func (b *bench) clusterCPU() time.Duration {
	var d time.Duration
	for _, c := range b.cls {
		d += c.cpu()
	}
	return d
}
