package proc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Sandbox is a running `kmigrate sandbox` child process.
type Sandbox struct {
	// Source and Target are the clusters' bootstrap addresses.
	Source, Target []string

	cmd    *exec.Cmd
	stderr *Tail
	exited chan error
	start  time.Time
}

// StartSandbox runs `bin sandbox --dir dir --brokers brokers` on free
// ports and waits until it says both clusters are ready. It retries with
// other ports if the ones it picked were taken in between.
func StartSandbox(ctx context.Context, bin, dir string, brokers int) (*Sandbox, error) {
	var err error
	for range 3 {
		var src, tgt int
		if src, tgt, err = freePorts(brokers); err != nil {
			return nil, err
		}
		var sb *Sandbox
		if sb, err = startSandbox(ctx, bin, dir, brokers, src, tgt); err == nil {
			return sb, nil
		}
		if !strings.Contains(err.Error(), "in use") {
			return nil, err
		}
	}
	return nil, err
}

func startSandbox(ctx context.Context, bin, dir string, brokers, src, tgt int) (*Sandbox, error) {
	// Not CommandContext: the sandbox must outlive a cancelled step and
	// be stopped by Stop, which waits for its data to be written.
	cmd := exec.Command(bin, "sandbox", "--dir", dir, "--brokers", strconv.Itoa(brokers),
		"--source-port", strconv.Itoa(src), "--target-port", strconv.Itoa(tgt), "--log-level", "warn")
	sb := &Sandbox{cmd: cmd, stderr: NewTail(16 << 10), exited: make(chan error, 1)}
	cmd.Stderr = sb.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	sb.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads them after startup
			}
		}
		_, _ = io.Copy(io.Discard, out)
		close(lines)
		sb.exited <- cmd.Wait()
	}()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				err := <-sb.exited
				sb.exited <- err
				return nil, ExitError(fmt.Errorf("sandbox exited before it was ready: %v", err), sb.stderr)
			}
			role, addrs, found := parseReady(line)
			switch {
			case found && role == "source":
				sb.Source = addrs
			case found && role == "target":
				sb.Target = addrs
			case strings.HasPrefix(line, "press Ctrl-C"):
				if sb.Source == nil || sb.Target == nil {
					sb.Stop(10 * time.Second)
					return nil, fmt.Errorf("sandbox ready without printing both bootstrap lines")
				}
				return sb, nil
			}
		case <-timeout.C:
			sb.Stop(10 * time.Second)
			return nil, ExitError(fmt.Errorf("sandbox not ready after a minute"), sb.stderr)
		case <-ctx.Done():
			sb.Stop(10 * time.Second)
			return nil, ctx.Err()
		}
	}
}

// parseReady reads "source ready: bootstrap a:1,b:2 (cluster id ...)".
func parseReady(line string) (role string, addrs []string, ok bool) {
	role, rest, ok := strings.Cut(line, " ready: bootstrap ")
	if !ok {
		return "", nil, false
	}
	list, _, _ := strings.Cut(rest, " ")
	return role, strings.Split(list, ","), true
}

// Stop interrupts the sandbox as Ctrl-C would, kills it if it has not
// exited after grace, and returns what it used over its whole life.
func (sb *Sandbox) Stop(grace time.Duration) (Usage, error) {
	_ = sb.cmd.Process.Signal(os.Interrupt)
	var err error
	select {
	case err = <-sb.exited:
	case <-time.After(grace):
		_ = sb.cmd.Process.Kill()
		err = fmt.Errorf("sandbox did not stop within %s; killed (%v)", grace, <-sb.exited)
	}
	sb.exited <- err // a second Stop returns at once
	return usage(sb.cmd.ProcessState, time.Since(sb.start)), ExitError(err, sb.stderr)
}

// freePorts picks first ports for a source and a target cluster of n
// brokers each such that all 2n ports are free now. It stays below Linux's
// ephemeral range (32768 and up), where outgoing connections can take a
// port between this check and the sandbox's listen.
func freePorts(n int) (src, tgt int, err error) {
	for range 200 {
		base := 20000 + rand.IntN(12000-2*n)
		if free(base, 2*n) {
			return base, base + n, nil
		}
	}
	return 0, 0, fmt.Errorf("no %d consecutive free ports found", 2*n)
}

func free(first, n int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for p := first; p < first+n; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}

// CPU is the CPU time the sandbox has used so far (see PidCPU). The
// difference over a measurement says how busy the clusters were during it.
func (sb *Sandbox) CPU() time.Duration { return PidCPU(sb.cmd.Process.Pid) }

// PidCPU is the CPU time (user and system) process pid has used so far,
// read from /proc/<pid>/stat; 0 where there is no /proc.
func PidCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after it. utime and stime are fields 14 and 15 of the whole line.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	// /proc counts in USER_HZ ticks, 100 per second on Linux.
	return time.Duration(ut+st) * (time.Second / 100)
}
