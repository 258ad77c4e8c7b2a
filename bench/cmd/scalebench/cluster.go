package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
)

// The clusters are in-memory kfake clusters, each in its own child process
// (this binary with --child cluster), not `kmigrate sandbox`: the sandbox
// persists every partition in files it keeps open (a .dat and an .idx per
// partition), and 10,000 partitions need more open files than the 20,000
// this machine lets a process have (produce then fails with
// UNKNOWN_SERVER_ERROR). Otherwise it is the sandbox's kfake: same
// version, brokers and broker configs (offsets kept, as the sandbox does).

// runCluster is the child: it serves one in-memory kfake cluster of
// o.brokers brokers until ctx ends, after printing "ready: bootstrap
// ADDRS".
func runCluster(ctx context.Context, o options) error {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	c, err := kfake.NewCluster(
		kfake.NumBrokers(o.brokers),
		// kfake's default id is the same for every cluster, and
		// kmigrate refuses a source and a target with one id.
		kfake.ClusterID(fmt.Sprintf("scalebench-%x", id)),
		kfake.BrokerConfigs(map[string]string{"offsets.retention.minutes": "2147483647"}),
	)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("ready: bootstrap %s\n", strings.Join(c.ListenAddrs(), ","))
	<-ctx.Done()
	return nil
}

// cluster is a running --child cluster process.
type cluster struct {
	bootstrap []string
	cmd       *exec.Cmd
	stderr    *proc.Tail
	done      chan procResult
}

// startCluster starts a --child cluster process and waits for its address.
func startCluster(ctx context.Context, self string, brokers int) (*cluster, error) {
	cmd := exec.Command(self, "--child", "cluster", "--brokers", strconv.Itoa(brokers))
	c := &cluster{cmd: cmd, stderr: proc.NewTail(8 << 10), done: make(chan procResult, 1)}
	cmd.Stderr = c.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	go func() {
		g, err := proc.Run([]*exec.Cmd{cmd})
		var u proc.Usage
		if len(g.Procs) == 1 {
			u = g.Procs[0]
		}
		c.done <- procResult{usage: u, err: err}
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addrs, ok := strings.CutPrefix(sc.Text(), "ready: bootstrap "); ok {
				ready <- addrs
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case addrs := <-ready:
		c.bootstrap = strings.Split(addrs, ",")
		return c, nil
	case r := <-c.done:
		return nil, proc.ExitError(fmt.Errorf("cluster exited before it was ready: %v", r.err), c.stderr)
	case <-time.After(time.Minute):
		c.stop()
		return nil, fmt.Errorf("cluster not ready after a minute")
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// stop interrupts the cluster and returns its usage over its life.
func (c *cluster) stop() procResult {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(os.Interrupt)
	}
	r := <-c.done
	c.done <- r
	return r
}

// cpu is the CPU time the process has used so far (proc.PidCPU).
func (c *cluster) cpu() time.Duration { return proc.PidCPU(c.cmd.Process.Pid) }
