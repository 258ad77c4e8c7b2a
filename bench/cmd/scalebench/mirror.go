package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/internal/state"
)

// mirrorProc is one running `kmigrate mirror` process.
type mirrorProc struct {
	cmd   *exec.Cmd
	log   *watcher
	start time.Time
	http  string
	// done receives the process's usage and error once it has exited.
	done chan procResult
	// expectExit is set before the harness stops or kills the process.
	expectExit atomic.Bool
}

// watchExits returns a context that ends when ctx does or when one of
// procs exits without the harness asking for it, so that no wait runs
// into its timeout for a process that is gone.
func watchExits(ctx context.Context, procs []*mirrorProc) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	for i, m := range procs {
		go func() {
			select {
			case r := <-m.done:
				m.done <- r
				if !m.expectExit.Load() {
					cancel(fmt.Errorf("mirror process %d exited: %v; its error lines: %q", i, r.err, m.log.errorLines()))
				}
			case <-wctx.Done():
			}
		}()
	}
	return wctx, func() { cancel(nil) }
}

type procResult struct {
	usage proc.Usage
	err   error
}

// startMirror starts `kmigrate mirror` with JSON logs into logPath and
// measures it with proc.Run (wall, CPU, VmHWM) until it exits.
func (b *bench) startMirror(ctx context.Context, spec, logPath string) (*mirrorProc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		f.Close()
		return nil, err
	}
	args := []string{"mirror", "-f", spec, "--units", strconv.Itoa(b.o.units),
		"--session-timeout", b.o.sessionTimeout.String(), "--log-format", "json", "--progress", "never",
		"--http", addr}
	args = append(args, strings.Fields(b.o.mirrorArgs)...)
	// Not stopped by ctx: every step stops its mirrors itself (SIGINT,
	// or SIGKILL for the rebalance).
	cmd := proc.Command(context.WithoutCancel(ctx), grace, b.bin, args...)
	m := &mirrorProc{cmd: cmd, log: newWatcher(f, b.o.units), http: addr, done: make(chan procResult, 1)}
	cmd.Stderr = m.log
	cmd.Stdout = f
	started := make(chan struct{})
	go func() {
		m.start = time.Now()
		close(started)
		g, err := proc.Run([]*exec.Cmd{cmd})
		f.Close()
		var u proc.Usage
		if len(g.Procs) == 1 {
			u = g.Procs[0]
		}
		m.done <- procResult{usage: u, err: err}
	}()
	<-started
	return m, nil
}

// pid waits until the process has started and returns its pid.
func (m *mirrorProc) pid(ctx context.Context) (int, error) {
	for {
		// cmd.Process is set by Start in proc.Run; the first log
		// line proves it ran. Reading it before is a race.
		t, ch := m.log.when("")
		if !t.IsZero() {
			return m.cmd.Process.Pid, nil
		}
		select {
		case <-ch:
		case r := <-m.done:
			m.done <- r
			return 0, fmt.Errorf("mirror exited before it logged anything: %w", r.err)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// stop interrupts the process (Ctrl-C) and returns its usage.
func (m *mirrorProc) stop(ctx context.Context) procResult {
	m.expectExit.Store(true)
	if _, err := m.pid(ctx); err == nil {
		_ = m.cmd.Process.Signal(os.Interrupt)
	}
	r := <-m.done
	m.done <- r
	return r
}

// kill sends SIGKILL and returns the usage up to then.
func (m *mirrorProc) kill(ctx context.Context) (time.Time, procResult, error) {
	if _, err := m.pid(ctx); err != nil {
		return time.Time{}, procResult{}, err
	}
	m.expectExit.Store(true)
	at := time.Now()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return at, procResult{}, err
	}
	r := <-m.done
	m.done <- r
	return at, r, nil
}

// profile saves a CPU profile of seconds from the process's /debug/pprof.
func (m *mirrorProc) profile(ctx context.Context, seconds int, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m.http, seconds)
	var last error
	for range 50 { // the server starts with the process
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, resp.Body)
		return errors.Join(err, f.Close())
	}
	return fmt.Errorf("profile: %w", last)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitFirstCopy polls the target topics until a partition's end offset
// is above zero (the first copied record is written, not yet committed)
// and until a last stable offset is (a transaction of copies committed).
func waitFirstCopy(ctx context.Context, adm *kadm.Client, topics []string) (written, committed time.Time, err error) {
	for {
		if written.IsZero() {
			if ends, err := adm.ListEndOffsets(ctx, topics...); err == nil {
				var n int64
				ends.Each(func(o kadm.ListedOffset) {
					if o.Err == nil {
						n += o.Offset
					}
				})
				if n > 0 {
					written = time.Now()
				}
			}
		}
		if lso, err := lastStable(ctx, adm, topics); err == nil && lso.total() > 0 {
			if written.IsZero() {
				written = time.Now()
			}
			return written, time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return written, committed, fmt.Errorf("no copy committed on the target: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitTargetAtLeast polls until every target partition's last stable
// offset is at least want's (renamed), which a complete copy reaches (the
// transaction markers only add offsets).
func waitTargetAtLeast(ctx context.Context, adm *kadm.Client, want counts, rename func(string) string) (time.Time, error) {
	var targets []string
	for t := range want {
		targets = append(targets, rename(t))
	}
	for {
		lso, err := lastStable(ctx, adm, targets)
		if err == nil && atLeast(lso, want, rename) {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("target did not reach the source's offsets: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// atLeast says whether every partition of want has at least its offset
// in got (under its renamed topic).
func atLeast(got, want counts, rename func(string) string) bool {
	for t, ps := range want {
		g := got[rename(t)]
		if len(g) < len(ps) {
			return false
		}
		for p, w := range ps {
			if g[p] < w {
				return false
			}
		}
	}
	return true
}

// waitCheckpoints polls the migration's state until the checkpoint of
// every source partition covers its end offset and the checkpoints count
// every record: what `kmigrate status` reports as lag 0.
func waitCheckpoints(ctx context.Context, adm *kadm.Client, bootstrap []string, migration string, ends counts) (time.Time, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(bootstrap...)}
	last := ""
	for {
		snap, err := state.Load(ctx, adm, state.TopicName(migration), opts)
		if err == nil {
			if last = uncovered(snap.Checkpoints, ends); last == "" {
				return time.Now(), nil
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("checkpoints do not cover the source (%s): %w", last, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// uncovered names the first source partition whose checkpoint is behind
// its end offset, or returns "".
func uncovered(cps map[state.TopicPartition]state.Checkpoint, ends counts) string {
	for t, ps := range ends {
		for p, end := range ps {
			cp, ok := cps[state.TopicPartition{Topic: t, Partition: int32(p)}]
			if !ok || cp.Next < end {
				return fmt.Sprintf("%s/%d: checkpoint %d of %d", t, p, cp.Next, end)
			}
		}
	}
	return ""
}

// specFile writes the migration's spec. JSON is YAML.
func (b *bench) specFile(name, migration, prefix string, groupsRe string) (string, error) {
	spec := fmt.Sprintf(`{"version":1,"name":%q,"source":{"bootstrap":[%q]},"target":{"bootstrap":[%q]},`+
		`"topics":{"include":["scale\\..*"],"prefix":%q},"groups":{"include":[%q]}}`,
		migration, b.src[0], b.tgt[0], prefix, groupsRe)
	path := filepath.Join(b.dir, name+".json")
	return path, os.WriteFile(path, []byte(spec), 0o644)
}
