package lane_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// The package's clusters, started by TestMain when the lane is on.
var (
	binary   string
	source39 *realkafka.Cluster // Kafka 3.9 with ZooKeeper
	source4  *realkafka.Cluster // Kafka 4.x KRaft
	target4  *realkafka.Cluster // Kafka 4.x KRaft
)

func TestMain(m *testing.M) {
	if !realkafka.Enabled() {
		os.Exit(m.Run()) // every test skips
	}
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lane:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "kmigrate-lane-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	// KMIGRATE_LANE_BINARY runs the lane against a given build (an older
	// release, say) instead of the working tree's.
	if binary = os.Getenv("KMIGRATE_LANE_BINARY"); binary == "" {
		binary = filepath.Join(dir, "kmigrate")
		build := exec.Command("go", "build", "-o", binary, "github.com/kmigrate/kmigrate/cmd/kmigrate")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return 0, fmt.Errorf("build kmigrate: %w", err)
		}
	}
	start := time.Now()
	cfgs := []realkafka.Config{
		{Version: realkafka.ZooKeeperVersion, Name: "source39"},
		{Version: realkafka.KRaftVersion, Name: "source4"},
		{Version: realkafka.KRaftVersion, Name: "target4"},
	}
	clusters := make([]*realkafka.Cluster, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, c := range cfgs {
		wg.Go(func() { clusters[i], errs[i] = realkafka.Start(context.Background(), c) })
	}
	wg.Wait()
	defer func() {
		for _, c := range clusters {
			if c != nil {
				c.Stop()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	source39, source4, target4 = clusters[0], clusters[1], clusters[2]
	fmt.Fprintf(os.Stderr, "lane: clusters serving after %v: source39 %s (Kafka %s, ZooKeeper), source4 %s and target4 %s (Kafka %s, KRaft)\n",
		time.Since(start).Round(time.Millisecond), source39.Bootstrap(), source39.Version(), source4.Bootstrap(), target4.Bootstrap(), target4.Version())
	code := m.Run()
	if code != 0 {
		for _, c := range clusters {
			fmt.Fprintf(os.Stderr, "lane: %s (Kafka %s) logs:\n%s\n", c.Dir(), c.Version(), c.Logs(30))
		}
	}
	return code, nil
}

// pair returns kafkatest clusters for a running source and target, whose
// helpers (CreateTopic, Produce, ConsumeAll, offsets) the tests use.
func pair(t *testing.T, src, tgt *realkafka.Cluster) *kafkatest.Pair {
	t.Helper()
	if !realkafka.Enabled() {
		t.Skipf("real Kafka lane off: set %s=1 (make test-kafka)", realkafka.EnvLane)
	}
	return &kafkatest.Pair{
		Source: kafkatest.Connect(t, "source", src.Addrs()),
		Target: kafkatest.Connect(t, "target", tgt.Addrs()),
	}
}

// migration is one kmigrate migration between a pair, with its own name
// (and so its own state topic) so that tests sharing clusters stay apart.
type migration struct {
	pair *kafkatest.Pair
	spec string
}

// newMigration writes a spec naming the migration and the pair; extra is
// appended YAML (a mirror: section, say).
func newMigration(t *testing.T, p *kafkatest.Pair, extra string) *migration {
	t.Helper()
	name := kafkatest.TopicName(t, "m")
	spec := fmt.Sprintf("version: 1\nname: %s\nsource:\n  bootstrap: [%s]\ntarget:\n  bootstrap: [%s]\n%s",
		name, strings.Join(p.Source.Addrs, ", "), strings.Join(p.Target.Addrs, ", "), extra)
	path := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	return &migration{pair: p, spec: path}
}

// args returns a kmigrate command line for the migration.
func (m *migration) args(cmd ...string) []string {
	return append(append(cmd, "-f", m.spec, "--log-level", "warn"), m.flags(cmd[0])...)
}

func (m *migration) flags(cmd string) []string {
	if cmd == "mirror" {
		return []string{"--progress", "never"}
	}
	return nil
}

// run runs kmigrate and returns its stdout, stderr and exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kmigrate %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// mustRun runs kmigrate and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	start := time.Now()
	out, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("kmigrate %s: exit %d after %v\nstdout:\n%s\nstderr:\n%s", args[0], code, time.Since(start).Round(time.Millisecond), out, errOut)
	}
	t.Logf("kmigrate %s: %v", strings.Join(args[:min(2, len(args))], " "), time.Since(start).Round(time.Millisecond))
	return out
}
