package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// latencyPy is the confluent-kafka driver: it reports librdkafka's own
// per-record produce latencies.
//
//go:embed latency.py
var latencyPy []byte

// writeRecordsFile writes n lines "k<i>:<value>" for kcat -K: -l. The
// values are random letters and digits, so that compression anywhere on
// the path (the client's, or a gateway re-compressing) gains little, as
// with most real payloads.
func writeRecordsFile(path string, n, size int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	value := make([]byte, size)
	for i := range n {
		for j := range value {
			value[j] = alphabet[rand.IntN(len(alphabet))]
		}
		fmt.Fprintf(w, "k%d:%s\n", i, value)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// kcatProduce writes the records file with kcat (librdkafka), idempotent
// and acks=all, and returns the wall time until kcat exits (it exits once
// every record is acknowledged).
func kcatProduce(ctx context.Context, addr, topic, file string, lingerMs int) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "kcat", "-P", "-b", addr, "-t", topic, "-K", ":", "-l",
		"-X", "enable.idempotence=true", "-X", "acks=all", "-X", "linger.ms="+strconv.Itoa(lingerMs), file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil || strings.Contains(stderr.String(), "ERROR") || strings.Contains(stderr.String(), "failed") {
		return 0, fmt.Errorf("kcat to %s: %v: %s", addr, err, stderr.String())
	}
	return elapsed, nil
}

// pyResult is latency.py's report.
type pyResult struct {
	Elapsed    float64 `json:"elapsed"`
	Delivered  int     `json:"delivered"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error"`
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
}

// pythonProduce runs latency.py (confluent-kafka) for n records at rate
// records/s.
func pythonProduce(ctx context.Context, python, script, addr, topic string, n, size, lingerMs, rate int) (pyResult, error) {
	cmd := exec.CommandContext(ctx, python, script, addr, topic, strconv.Itoa(n), strconv.Itoa(size), strconv.Itoa(lingerMs), strconv.Itoa(rate))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return pyResult{}, fmt.Errorf("confluent-kafka to %s: %w: %s", addr, err, stderr.String())
	}
	var r pyResult
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		return pyResult{}, fmt.Errorf("confluent-kafka to %s: report %q: %w", addr, out, err)
	}
	if r.Errors != 0 || r.Delivered != n {
		return pyResult{}, fmt.Errorf("confluent-kafka to %s: %d of %d delivered, %d errors (first: %s)", addr, r.Delivered, n, r.Errors, r.FirstError)
	}
	return r, nil
}

// vmHWM is a process's peak RSS (VmHWM) from /proc, or "unknown".
func vmHWM(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "unknown"
}
