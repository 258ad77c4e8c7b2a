package sandbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/sandbox"
)

// TestMain fails the run if franz-go goroutines (clients, kfake brokers)
// outlive the tests: every Start must be matched by a Close, also on
// Start's own error paths.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := franzGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// franzGoroutines waits up to d for all goroutines running franz-go code to
// end and returns the stacks of those that did not.
func franzGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "github.com/twmb/franz-go") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLogger writes the sandbox's logs to the test log at warn and above,
// so kfake's errors (such as failing to save state) show up.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// randomConfig runs three brokers per cluster on free ports, as the demo
// will.
func randomConfig(t *testing.T, dir string) sandbox.Config {
	return sandbox.Config{
		Dir:         dir,
		SourcePorts: make([]int, 3),
		TargetPorts: make([]int, 3),
		Logger:      testLogger(t),
	}
}

// start starts a sandbox and closes it at cleanup.
func start(t *testing.T, cfg sandbox.Config) *sandbox.Sandbox {
	t.Helper()
	s, err := sandbox.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newAdmin(t *testing.T, bootstrap []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// consume reads topic from the start and returns its records once it has
// want of them, plus any that arrive in a short grace period after, so that
// extra records fail the count instead of going unseen.
func consume(t *testing.T, bootstrap []string, topic string, isolation kgo.IsolationLevel, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(isolation),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	var recs []*kgo.Record
	poll := func(ctx context.Context) {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t2 string, p int32, err error) {
			if ctx.Err() == nil {
				t.Fatalf("consume %s/%d: %v", t2, p, err)
			}
		})
		recs = append(recs, fs.Records()...)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for len(recs) < want && ctx.Err() == nil {
		poll(ctx)
	}
	grace, cancelGrace := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancelGrace()
	for grace.Err() == nil {
		poll(grace)
	}
	if len(recs) != want {
		t.Fatalf("consume %s: got %d records, want %d", topic, len(recs), want)
	}
	return recs
}

// freePorts returns n ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close() // only after all are taken, so none repeats
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}
