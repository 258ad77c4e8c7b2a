package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// binary is the kmigrate binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kmigrate-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kmigrate")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kmigrate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sandboxProc is a running `kmigrate sandbox`.
type sandboxProc struct {
	cmd    *exec.Cmd
	ids    map[string]string // role -> cluster id; complete once running
	output *lockedBuffer
	done   chan error
}

var readyLine = regexp.MustCompile(`^(source|target) ready: bootstrap (\S+) \(cluster id (\S+), (new data|data restored) in `)

// errPortTaken: a port picked as free was taken before the sandbox bound it.
var errPortTaken = errors.New("port taken")

// sandboxOn starts the sandbox on srcPort and tgtPort or, when one of them
// was taken meanwhile (a port picked as free can become another process's
// connection before the sandbox binds it, more so on a busy machine), on
// ports picked again, and returns the ports it runs on.
func sandboxOn(t *testing.T, dir string, srcPort, tgtPort int, extra ...string) (*sandboxProc, int, int) {
	t.Helper()
	for try := 0; ; try++ {
		p, err := startSandbox(t, dir, srcPort, tgtPort, extra...)
		if err == nil {
			return p, srcPort, tgtPort
		}
		if !errors.Is(err, errPortTaken) || try == 4 {
			t.Fatal(err)
		}
		t.Logf("%v; picking other ports", err)
		srcPort, tgtPort = freePortBase(t, 3), 0
		for tgtPort == 0 || (tgtPort < srcPort+3 && srcPort < tgtPort+3) {
			tgtPort = freePortBase(t, 3)
		}
	}
}

func startSandbox(t *testing.T, dir string, srcPort, tgtPort int, extra ...string) (*sandboxProc, error) {
	t.Helper()
	args := append([]string{"sandbox", "--dir", dir, "--source-port", fmt.Sprint(srcPort), "--target-port", fmt.Sprint(tgtPort)}, extra...)
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &sandboxProc{cmd: cmd, ids: map[string]string{}, output: new(lockedBuffer), done: make(chan error, 1)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.output.WriteString(line + "\n")
			if m := readyLine.FindStringSubmatch(line); m != nil {
				p.ids[m[1]] = m[3]
			}
			if strings.HasPrefix(line, "press Ctrl-C") && !signalled {
				signalled = true
				close(running)
			}
		}
		io.Copy(io.Discard, stdout)
		p.done <- cmd.Wait()
	}()
	select {
	case <-running:
	case err := <-p.done:
		if strings.Contains(stderr.String(), "is already in use") {
			return nil, fmt.Errorf("%w: %s", errPortTaken, strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("sandbox exited early: %v\nstdout:\n%s\nstderr:\n%s", err, p.output, stderr.String())
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("sandbox not ready after 60s\nstdout:\n%s\nstderr:\n%s", p.output, stderr.String())
	}
	return p, nil
}

func (p *sandboxProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("sandbox exit after %v: %v", sig, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("sandbox did not stop within 30s of %v", sig)
	}
	if !strings.Contains(p.output.String(), "sandbox stopped; data kept in") {
		t.Errorf("no stop line in output:\n%s", p.output)
	}
}

type kcatMeta struct {
	Brokers []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic string `json:"topic"`
	} `json:"topics"`
}

func kcatList(t *testing.T, kcat, bootstrap string) kcatMeta {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", bootstrap, "-L", "-J").Output()
	if err != nil {
		t.Fatalf("kcat -b %s -L: %v", bootstrap, err)
	}
	var m kcatMeta
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("kcat -L -J output: %v\n%s", err, out)
	}
	return m
}

// TestSandboxCheckAndRestart walks the foundation's user story: start the
// sandbox, list both clusters with kcat, check them, refuse the same
// cluster twice, stop with Ctrl-C, restart and find the data.
func TestSandboxCheckAndRestart(t *testing.T) {
	kcat := kafkatest.RequireClient(t, kafkatest.ClientKcat)
	dir := t.TempDir()
	srcPort, tgtPort := freePortBase(t, 3), 0
	for tgtPort == 0 || (tgtPort < srcPort+3 && srcPort < tgtPort+3) {
		tgtPort = freePortBase(t, 3)
	}
	sb, srcPort, tgtPort := sandboxOn(t, dir, srcPort, tgtPort, "--sample-data")
	src := fmt.Sprintf("127.0.0.1:%d", srcPort)
	tgt := fmt.Sprintf("127.0.0.1:%d", tgtPort)
	if sb.ids["source"] == "" || sb.ids["target"] == "" || sb.ids["source"] == sb.ids["target"] {
		t.Fatalf("cluster ids = %v, want two distinct ids", sb.ids)
	}
	for _, addr := range []struct{ bootstrap, first string }{{src, src}, {tgt, tgt}} {
		m := kcatList(t, kcat, addr.bootstrap)
		if len(m.Brokers) != 3 {
			t.Errorf("kcat -b %s -L: %d brokers, want 3", addr.bootstrap, len(m.Brokers))
		}
	}
	var topics []string
	for _, tp := range kcatList(t, kcat, src).Topics {
		topics = append(topics, tp.Topic)
	}
	if got := strings.Join(sorted(topics), ","); got != "customers,orders,payments" {
		t.Errorf("source topics = %s, want customers,orders,payments", got)
	}

	out, errOut, code := run(t, "check", "--source", src, "--target", tgt)
	if code != 0 {
		t.Fatalf("check exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"SOURCE", "cluster id     " + sb.ids["source"], "TARGET", "cluster id     " + sb.ids["target"],
		"selected       3 topics, 2 groups", "OK: both clusters are reachable and distinct.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	out, errOut, code = run(t, "check", "--source", src, "--target", src)
	if code != 1 {
		t.Errorf("check with target = source: exit %d, want 1\nstdout:\n%s", code, out)
	}
	wantRefusal := "kmigrate: source and target are the same cluster (cluster id " + sb.ids["source"] + "): mirroring a cluster onto itself would write its topics into themselves; point --target at the new cluster\n"
	if errOut != wantRefusal {
		t.Errorf("check with target = source: stderr\n%q\nwant\n%q", errOut, wantRefusal)
	}

	sb.stop(t, syscall.SIGINT)

	again, srcPort, _ := sandboxOn(t, dir, srcPort, tgtPort, "--sample-data")
	src = fmt.Sprintf("127.0.0.1:%d", srcPort)
	if again.ids["source"] != sb.ids["source"] || again.ids["target"] != sb.ids["target"] {
		t.Errorf("ids after restart = %v, want %v", again.ids, sb.ids)
	}
	if !strings.Contains(again.output.String(), "sample data: already present, nothing written") {
		t.Errorf("restart re-seeded:\n%s", again.output)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cnt, err := exec.CommandContext(ctx, kcat, "-b", src, "-C", "-t", "orders", "-e", "-q", "-f", "x\n").Output()
	if err != nil {
		t.Fatalf("kcat consume orders after restart: %v", err)
	}
	if n := strings.Count(string(cnt), "x\n"); n != 1000 {
		t.Errorf("orders after restart: %d records, want 1000", n)
	}
	again.stop(t, syscall.SIGTERM)
}

func TestVersionAndHelp(t *testing.T) {
	out, _, code := run(t, "version")
	if code != 0 || !regexp.MustCompile(`^kmigrate \S+.* go1\.\d+.* franz-go v\d+\.\d+\.\d+\n$`).MatchString(out) {
		t.Errorf("version: exit %d, output %q", code, out)
	}
	for _, cmd := range [][]string{{"--help"}, {"check", "--help"}, {"sandbox", "--help"}, {"version", "--help"}} {
		out, _, code := run(t, cmd...)
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("%v: exit %d, no Examples section:\n%s", cmd, code, out)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
