package main_test

// Helpers that several journeys share: running the binary, the flags that
// point it at a pair, seeding and digesting topics, waiting for a
// condition, and a running continuous mirror.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// groupArgs are the arguments of `kmigrate groups <cmd>` for pair with
// JSON output.
func groupArgs(pair *kafkatest.Pair, cmd string, extra ...string) []string {
	return append([]string{"groups", cmd, "--source", strings.Join(pair.Source.Addrs, ","), "--target", strings.Join(pair.Target.Addrs, ","),
		"--output", "json", "--log-level", "warn"}, extra...)
}

// run runs the kmigrate binary with args (limit 60s) and returns its
// output and exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return o.String(), e.String(), ee.ExitCode()
		}
		t.Fatalf("run %v: %v", args, err)
	}
	return o.String(), e.String(), 0
}

// runFor is run with a longer limit, for commands that copy or read
// megabytes with the race detector on.
func runFor(t *testing.T, limit time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("run %v: %v (limit %v)\nstdout:\n%s\nstderr:\n%s", args, err, limit, o.String(), e.String())
		}
		return o.String(), e.String(), ee.ExitCode()
	}
	return o.String(), e.String(), 0
}

// exitCode is the exit code of a finished process: 0, its code, or -1
// when it did not exit normally.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// mirrorArgs are the flags that point kmigrate at a pair.
func mirrorArgs(pair *kafkatest.Pair, extra ...string) []string {
	return append([]string{"mirror", "--source", strings.Join(pair.Source.Addrs, ","), "--target", strings.Join(pair.Target.Addrs, ","),
		"--progress", "never", "--log-level", "warn"}, extra...)
}

// seed creates topic on c and writes n records of 200-500 bytes to it,
// round robin over the partitions, with keys, a header and timestamps.
func seed(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32, n int) {
	t.Helper()
	c.CreateTopic(t, topic, partitions, map[string]string{"retention.ms": "-1"})
	recs := make([]*kgo.Record, 0, n)
	base := time.UnixMilli(1_700_000_000_000)
	for i := range n {
		recs = append(recs, &kgo.Record{
			Topic: topic, Partition: int32(i) % partitions,
			Key: fmt.Appendf(nil, "key-%d", i), Value: bytes.Repeat([]byte{byte('a' + i%26)}, 200+i%300),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Headers:   []kgo.RecordHeader{{Key: "n", Value: fmt.Appendf(nil, "%d", i)}},
		})
	}
	c.Produce(t, recs...)
}

// digest hashes a topic's records in partition and offset order: key,
// value, headers without tracing headers, timestamp. It also returns, for
// target topics, the source offsets named by tracing headers per partition
// and whether any repeats.
func digest(t *testing.T, c *kafkatest.Cluster, topic string) (sum [32]byte, n int, dups []string) {
	t.Helper()
	h := sha256.New()
	seen := map[int32]map[int64]bool{}
	for _, r := range c.ConsumeAll(t, topic) {
		fmt.Fprintf(h, "%d|%q|%q|%d|", r.Partition, r.Key, r.Value, r.Timestamp.UnixMilli())
		for _, hd := range trace.Strip(r.Headers) {
			fmt.Fprintf(h, "%q=%q,", hd.Key, hd.Value)
		}
		h.Write([]byte{'\n'})
		n++
		if o, ok, err := trace.Find(r.Headers); ok && err == nil {
			if seen[r.Partition] == nil {
				seen[r.Partition] = map[int64]bool{}
			}
			if seen[r.Partition][o.Offset] {
				dups = append(dups, fmt.Sprintf("%d@%d", r.Partition, o.Offset))
			}
			seen[r.Partition][o.Offset] = true
		}
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, dups
}

// endOffsets sums a topic's last stable offsets: committed progress. The
// admin client refreshes metadata at once, so a topic that was just created
// is seen (franz-go otherwise caches "unknown topic" for seconds).
func endOffsets(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ends, err := adm.ListCommittedOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += max(o.Offset, 0) })
	return sum
}

// freePortBase finds n consecutive free loopback ports.
func freePortBase(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if base+n > 65535 {
			continue
		}
		ok := true
		var held []net.Listener
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports found")
	return 0
}

// lockedBuffer is an output buffer that a process or goroutine writes
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds; the test fails after limit. The
// limit only bounds a hang: what the test asserts is cond.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	if !eventually(limit, cond) {
		t.Fatalf("timed out after %v waiting for %s", limit, what)
	}
}

// eventually polls cond until it holds (true) or limit passes (false).
func eventually(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// mirrorProc is a running `kmigrate mirror` (continuous).
type mirrorProc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process exited
	err  error         // its exit, once done is closed
}

// startMirror starts kmigrate with args; the process is killed at the end
// of the test if it still runs, and its output logged if the test failed.
func startMirror(t *testing.T, args []string) *mirrorProc {
	t.Helper()
	m := &mirrorProc{cmd: exec.Command(binary, args...), out: new(lockedBuffer), done: make(chan struct{})}
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.err = m.cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			m.cmd.Process.Kill()
			<-m.done
		}
		if t.Failed() {
			t.Logf("kmigrate mirror output:\n%s", m.out.String())
		}
	})
	return m
}

// wait waits for the mirror to exit by itself and returns its exit code.
func (m *mirrorProc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-m.done:
		return exitCode(m.err)
	case <-time.After(limit):
		t.Fatalf("the mirror did not exit within %v\n%s", limit, m.out.String())
		return -1
	}
}

// stop interrupts the mirror (Ctrl-C), which commits and exits 0.
func (m *mirrorProc) stop(t *testing.T) {
	t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := m.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("the mirror exited with %d after SIGINT, want 0\n%s", code, m.out.String())
	}
}
