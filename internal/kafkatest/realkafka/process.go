package realkafka

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// process is one JVM: a ZooKeeper server or a Kafka node. Its output goes
// to stdout.log in its folder, Kafka's own log to server.log beside it.
type process struct {
	name string
	dir  string
	args []string // java arguments

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	err  error         // cmd.Wait's result, set before done closes
}

// start launches the JVM in its own process group, with SIGKILL as its
// parent-death signal so that a crashed test binary cannot leak it.
func (p *process) start(java string) error {
	out, err := os.OpenFile(filepath.Join(p.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(java, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		p.err = cmd.Wait()
		out.Close()
		close(done)
	}(p.done)
	return nil
}

// running tells whether the JVM is alive.
func (p *process) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL to the process group and waits for the exit.
func (p *process) kill() {
	if !p.running() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// exited returns an error describing an early exit, with the log's tail.
func (p *process) exited() error {
	return fmt.Errorf("%s exited during start (%v):\n%s", p.name, p.err, p.logTail(25))
}

// logTail returns the last n lines of the process's logs, for failures.
func (p *process) logTail(n int) string {
	var b strings.Builder
	for _, f := range []string{"stdout.log", "server.log"} {
		data, err := os.ReadFile(filepath.Join(p.dir, f))
		if err != nil || len(data) == 0 {
			continue
		}
		lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- %s/%s\n%s\n", p.name, f, bytes.Join(lines, []byte("\n")))
	}
	return b.String()
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// Another process may take one before the JVM binds it; Start retries
// with new ports when a node exits during start.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitTCP waits until addr accepts connections or p exits.
func waitTCP(ctx context.Context, p *process, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return p.exited()
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not listening: %w\n%s", p.name, addr, ctx.Err(), p.logTail(25))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// writeProps writes a Java properties file, sorted for readable diffs.
func writeProps(path string, props map[string]string) error {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// runJava runs a short-lived Java tool (the KRaft storage formatter) and
// returns its output on failure.
func runJava(ctx context.Context, java string, args ...string) error {
	cmd := exec.CommandContext(ctx, java, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
