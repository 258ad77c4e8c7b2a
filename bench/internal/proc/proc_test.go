package proc

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestParseReady(t *testing.T) {
	role, addrs, ok := parseReady("source ready: bootstrap 127.0.0.1:1,127.0.0.1:2 (cluster id x, new data in /d)")
	if !ok || role != "source" || !slices.Equal(addrs, []string{"127.0.0.1:1", "127.0.0.1:2"}) {
		t.Fatalf("got %q %q %v", role, addrs, ok)
	}
	if _, _, ok := parseReady("press Ctrl-C to stop"); ok {
		t.Fatal("parsed a line that is not a ready line")
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	tl := NewTail(5)
	tl.Write([]byte("abc"))
	tl.Write([]byte("defg"))
	if got := tl.String(); got != "cdefg" {
		t.Fatalf("got %q", got)
	}
}

// Run reports each process's own usage; a pipe between two of them sees
// end of file once the writer exits, because Run closes the parent's ends.
func TestRunMeasuresEachProcess(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	// The writer holds about 64 MiB in a shell variable; the reader little.
	w := exec.Command("sh", "-c", `x=$(head -c 67108864 /dev/zero | tr '\0' a); echo done`)
	r := exec.Command("sh", "-c", "cat")
	var out strings.Builder
	r.Stdout = &out
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Stdout, r.Stdin = pw, pr
	g, err := Run([]*exec.Cmd{w, r}, pr, pw)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "done\n" {
		t.Fatalf("reader got %q", out.String())
	}
	if len(g.Procs) != 2 || g.Wall <= 0 {
		t.Fatalf("usage %+v", g)
	}
	if g.Procs[0].MaxRSS < 64<<20 || g.Procs[1].MaxRSS >= 64<<20 {
		t.Fatalf("peak RSS writer %d, reader %d: want the writer's 64 MiB counted only for the writer", g.Procs[0].MaxRSS, g.Procs[1].MaxRSS)
	}
	if g.MaxRSSSum() != g.Procs[0].MaxRSS+g.Procs[1].MaxRSS {
		t.Fatal("MaxRSSSum is not the sum")
	}
}

// Start leaves the processes running until the caller signals them; Wait
// then reports each one's exit and usage.
func TestStartSignalWait(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	var (
		cmds             []*exec.Cmd
		stdouts, writers []*os.File
	)
	for range 2 {
		// The shell prints once it has set its trap, then waits.
		c := exec.Command("sh", "-c", `trap 'echo term; exit 0' TERM; echo up; while :; do sleep 1; done`)
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		c.Stdout = pw
		cmds, stdouts, writers = append(cmds, c), append(stdouts, pr), append(writers, pw)
	}
	r, err := Start(cmds, writers...)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until both have set their traps: each prints "up".
	for _, f := range stdouts {
		buf := make([]byte, 3)
		if _, err := f.Read(buf); err != nil || string(buf) != "up\n" {
			t.Fatalf("read %q, %v", buf, err)
		}
	}
	if err := r.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	g, err := r.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range stdouts {
		rest := make([]byte, 16)
		n, _ := f.Read(rest)
		if string(rest[:n]) != "term\n" {
			t.Fatalf("process %d printed %q after up", i, rest[:n])
		}
	}
	if len(g.Procs) != 2 || g.Wall <= 0 || g.Procs[0].MaxRSS <= 0 || g.Procs[1].MaxRSS <= 0 {
		t.Fatalf("usage %+v", g)
	}
}
