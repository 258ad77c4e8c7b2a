// Package proc runs the processes that the mirror benchmark measures and
// reads from the kernel what each one used: wall time, CPU time and peak
// resident memory (sampled from /proc/PID/status VmHWM while it runs; see
// watchHWM for why not ru_maxrss). Measuring every contender as its
// own child process, the franz-go baselines included, is what makes the
// peak RSS numbers comparable.
//
// It also starts and stops `kmigrate sandbox` as a child process, so that
// the clusters use their own process and their own cores, as they would
// for a user.
package proc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Usage is what one process used.
type Usage struct {
	// Wall is from start to exit.
	Wall time.Duration
	// CPU is user plus system time.
	CPU time.Duration
	// MaxRSS is the peak resident set size in bytes.
	MaxRSS int64
}

// Group is what a set of processes started together used.
type Group struct {
	// Wall is from the first start to the last exit.
	Wall time.Duration
	// Procs holds each process's usage, in the order given.
	Procs []Usage
}

// CPU is the CPU time of all processes.
func (g Group) CPU() time.Duration {
	var d time.Duration
	for _, p := range g.Procs {
		d += p.CPU
	}
	return d
}

// MaxRSSSum is the sum of the processes' peaks: an upper bound of their
// resident memory at any one moment.
func (g Group) MaxRSSSum() int64 {
	var n int64
	for _, p := range g.Procs {
		n += p.MaxRSS
	}
	return n
}

// Run starts cmds together, waits for all of them and returns their usage.
// The files in closeAfterStart (pipe ends handed to the children) are
// closed once every command has started, so that a pipe sees end of file
// when its writer exits. If one command fails the others are still waited
// for (ctx cancellation kills them, through exec.CommandContext), and the
// first failure is returned.
func Run(cmds []*exec.Cmd, closeAfterStart ...*os.File) (Group, error) {
	r, err := Start(cmds, closeAfterStart...)
	if err != nil {
		return Group{Procs: make([]Usage, len(cmds))}, err
	}
	return r.Wait()
}

// Running is a group of processes started together, for a caller that
// decides itself when they should stop (a continuous mirror runs until it
// is signalled).
type Running struct {
	// Begin is when the first process was started.
	Begin  time.Time
	cmds   []*exec.Cmd
	starts []time.Time
	hwms   []func() int64
}

// Start starts cmds together and begins sampling their peak RSS; on error
// the processes already started are killed. closeAfterStart is as for Run.
func Start(cmds []*exec.Cmd, closeAfterStart ...*os.File) (*Running, error) {
	r := &Running{Begin: time.Now(), cmds: cmds, starts: make([]time.Time, len(cmds))}
	var startErr error
	started := 0
	for i, c := range cmds {
		r.starts[i] = time.Now()
		if err := c.Start(); err != nil {
			startErr = fmt.Errorf("start %s: %w", c.Path, err)
			break
		}
		started++
	}
	for _, f := range closeAfterStart {
		f.Close()
	}
	if startErr != nil {
		for _, c := range cmds[:started] {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		return nil, startErr
	}
	for _, c := range cmds {
		r.hwms = append(r.hwms, watchHWM(c.Process.Pid))
	}
	return r, nil
}

// CPU is the CPU time the processes have used so far, from
// /proc/<pid>/stat (0 where there is no /proc).
func (r *Running) CPU() time.Duration {
	var d time.Duration
	for _, c := range r.cmds {
		d += PidCPU(c.Process.Pid)
	}
	return d
}

// Signal sends sig to every process.
func (r *Running) Signal(sig os.Signal) error {
	var first error
	for _, c := range r.cmds {
		if err := c.Process.Signal(sig); err != nil && first == nil {
			first = fmt.Errorf("signal %s: %w", c.Path, err)
		}
	}
	return first
}

// Wait waits for every process and returns their usage: wall time from
// Begin to the last exit, each one's CPU time and peak RSS.
func (r *Running) Wait() (Group, error) {
	g := Group{Procs: make([]Usage, len(r.cmds))}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = make([]error, len(r.cmds))
		end  time.Time
	)
	for i, c := range r.cmds {
		wg.Go(func() {
			err := c.Wait()
			now := time.Now()
			peak := r.hwms[i]()
			mu.Lock()
			if now.After(end) {
				end = now
			}
			mu.Unlock()
			g.Procs[i] = usage(c.ProcessState, now.Sub(r.starts[i]))
			if peak > 0 {
				g.Procs[i].MaxRSS = peak
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", c.String(), err)
			}
		})
	}
	wg.Wait()
	g.Wall = end.Sub(r.Begin)
	for _, err := range errs {
		if err != nil {
			return g, err
		}
	}
	return g, nil
}

func usage(ps *os.ProcessState, wall time.Duration) Usage {
	u := Usage{Wall: wall}
	if ps == nil {
		return u
	}
	u.CPU = ps.UserTime() + ps.SystemTime()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		u.MaxRSS = int64(ru.Maxrss)
		// Linux reports KiB; macOS reports bytes.
		if runtime.GOOS != "darwin" {
			u.MaxRSS *= 1024
		}
	}
	return u
}

// Command is exec.CommandContext that stops the process with SIGINT when
// ctx ends (what a user's Ctrl-C does), and kills it if it has not exited
// grace later.
func Command(ctx context.Context, grace time.Duration, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Cancel = func() error { return c.Process.Signal(os.Interrupt) }
	c.WaitDelay = grace
	return c
}

// Tail keeps the last bytes written to it: a child's stderr, for error
// messages, without holding a chatty log in memory.
type Tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// NewTail returns a Tail that keeps max bytes.
func NewTail(max int) *Tail { return &Tail{max: max} }

// Write implements io.Writer.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns what is kept.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// ExitError wraps a failed command with the end of its stderr.
func ExitError(err error, stderr *Tail) error {
	if err == nil {
		return nil
	}
	if s := stderr.String(); s != "" {
		return fmt.Errorf("%w; its stderr ends with:\n%s", err, s)
	}
	return err
}

// watchHWM samples a running process's own peak resident memory (VmHWM in
// /proc/PID/status) every 10ms until the returned function is called, which
// stops sampling and returns the highest value seen, in bytes (0 where
// /proc is not available).
//
// ru_maxrss cannot be used on Linux: Go starts children with
// CLONE_VM|CLONE_VFORK, so until exec a child runs in the parent's address
// space, and the kernel records that space's peak as the child's when it
// execs. Every child would report at least the harness's own RSS.
func watchHWM(pid int) func() int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var (
		mu   sync.Mutex
		peak int64
	)
	read := func() {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var kib int64
				if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kib); err == nil {
					mu.Lock()
					peak = max(peak, kib*1024)
					mu.Unlock()
				}
			}
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
