package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// sourceTopic is the seeded topic; each measurement writes its own target
// topic.
const sourceTopic = "bench.source"

// bench is one run's shared state.
type bench struct {
	o        options
	self     string // this binary, re-executed for the baselines
	bin      string // the kmigrate binary built for this run
	dir      string // the run's data directory
	runID    string
	spec     *workload.Spec
	expected []workload.Sum
	sb       *proc.Sandbox
}

func run(ctx context.Context, o options) (err error) {
	begin := time.Now()
	rep := &Report{Started: begin, Brokers: o.brokers, Host: host()}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if o.resultsDir == "" {
		o.resultsDir = filepath.Join(root, "bench", "results")
	}
	spec, err := workload.NewSpec(o.records, o.size, o.partitions, o.seed)
	if err != nil {
		return err
	}
	rep.Workload = spec
	if !o.skipKcat {
		if rep.Host.Kcat, err = kcatVersion(o.kcat); err != nil {
			return fmt.Errorf("%w (install it with `apt-get install -y kcat`, or pass --skip-kcat)", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.workDir, "mirrorbench-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep {
			logf("data kept in %s", dir)
			return
		}
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", dir, rmErr))
		}
	}()
	// The source, the target copy being checked, and the next one; kfake
	// stores a little more than the record bytes.
	if err := checkDisk(dir, 3*spec.Bytes()+(1<<30)); err != nil {
		return err
	}
	b := &bench{o: o, self: self, dir: dir, spec: spec, runID: begin.UTC().Format("20060102t150405")}

	logf("building kmigrate from %s", root)
	b.bin = filepath.Join(dir, "kmigrate")
	build := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "./cmd/kmigrate")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/kmigrate: %w", err)
	}
	if out, err := exec.Command(b.bin, "version").Output(); err == nil {
		rep.Host.Kmigrate = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	if rep.SourceDigest, err = sourceDigest(root); err != nil {
		return err
	}

	logf("starting kmigrate sandbox (%d broker(s) per cluster) in %s", o.brokers, dir)
	b.sb, err = proc.StartSandbox(ctx, b.bin, filepath.Join(dir, "sandbox"), o.brokers)
	if err != nil {
		return err
	}
	stopped := false
	stopSandbox := func() error {
		if stopped {
			return nil
		}
		stopped = true
		u, err := b.sb.Stop(time.Minute)
		rep.SandboxMaxRSS, rep.SandboxCPUSeconds, rep.SandboxWall = u.MaxRSS, u.CPU.Seconds(), u.Wall.Seconds()
		return err
	}
	defer func() { err = errors.Join(err, stopSandbox()) }()
	logf("source %s, target %s", strings.Join(b.sb.Source, ","), strings.Join(b.sb.Target, ","))

	seedStart := time.Now()
	if err := b.seed(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	rep.SeedSeconds = time.Since(seedStart).Seconds()
	logf("seeded %d records (%.0f MB) in %.1fs", spec.Records, float64(spec.Bytes())/1e6, rep.SeedSeconds)
	b.expected = spec.Expected()

	steps := []func(context.Context) Result{
		b.measureConsume,
		b.measureProduce,
		b.measureCopy,
		func(ctx context.Context) Result { return b.measureMirror(ctx, "mirror", "") },
		func(ctx context.Context) Result { return b.measureMirror(ctx, "mirror-low", o.lowBudget) },
	}
	if !o.skipKcat {
		steps = append(steps, b.measureKcat)
	}
	for _, step := range steps {
		sctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
		r := step(sctx)
		cancel()
		rep.Results = append(rep.Results, r)
		logf("%s: %d records in %.2fs, %.0f records/s, %.1f MB/s, peak RSS %s MiB; %s%s",
			r.Label, r.Records, r.WallSeconds, r.RecordsPerSec, r.MBPerSec, mib(r.MaxRSS), r.Check, errSuffix(r.Err))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	stopErr := stopSandbox()
	rep.TotalSeconds = time.Since(begin).Seconds()
	rep.computeRatio()
	rep.printTable(os.Stdout)
	path, err := rep.writeJSON(o.resultsDir)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Printf("results written to %s\n", path)
	if stopErr != nil {
		return stopErr
	}
	for _, r := range rep.Results {
		if !r.ok() {
			return fmt.Errorf("%s did not pass: %s%s", r.Label, r.Check, errSuffix(r.Err))
		}
	}
	return nil
}

// seed creates the source topic and writes the workload into it, with the
// same franz-go producer as the produce-only baseline.
func (b *bench) seed(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.o.stepTimeout)
	defer cancel()
	if err := workload.CreateTopic(ctx, b.sb.Source, sourceTopic, b.spec.Partitions); err != nil {
		return err
	}
	cl, err := kgo.NewClient(workload.ProducerOpts(b.sb.Source)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return workload.Produce(ctx, cl, sourceTopic, b.spec)
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return "; error: " + s
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// moduleRoot finds the kmigrate module's directory from the working
// directory, as `go run ./bench/cmd/mirrorbench` and make are run there.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the kmigrate module: run from its directory")
	}
	data, err := os.ReadFile(mod)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(data, []byte("module github.com/kmigrate/kmigrate\n")) {
		return "", fmt.Errorf("%s is not the kmigrate module: run from its directory", mod)
	}
	return filepath.Dir(mod), nil
}

// checkDisk refuses to start when dir's file system has less than need
// bytes free.
func checkDisk(dir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("free space of %s: %w", dir, err)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < need {
		return fmt.Errorf("%s has %.1f GB free, the run needs about %.1f GB: free space, pass --dir, or use fewer --records",
			dir, float64(free)/1e9, float64(need)/1e9)
	}
	return nil
}

// sourceDigest hashes the Go sources kmigrate is built from (every .go
// file outside bench/, go.mod, go.sum), so that two runs of a tree that
// is being edited can tell whether they measured the same code.
func sourceDigest(root string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "bench" || (rel != "." && strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") && rel != "go.mod" && rel != "go.sum" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash the sources: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func kcatVersion(kcat string) (string, error) {
	path, err := exec.LookPath(kcat)
	if err != nil {
		return "", fmt.Errorf("kcat not found: %w", err)
	}
	out, _ := exec.Command(path, "-V").CombinedOutput()
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(strings.ToLower(line), "version") {
			return strings.TrimSpace(line), nil
		}
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), nil
}

func host() Host {
	h := Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	h.CPUModel = procField("/proc/cpuinfo", "model name")
	h.MemTotal = procField("/proc/meminfo", "MemTotal")
	return h
}

// procField returns the value of the first "key: value" line of a /proc
// file, or "".
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
