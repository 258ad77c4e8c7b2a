package realkafka

import (
	"context"
	"os"
	"testing"
)

// EnvLane turns the real-Kafka lane on: StartT skips without it, so that
// `go test ./...` never starts a JVM. make test-kafka sets it.
const EnvLane = "KMIGRATE_REAL_KAFKA"

// Enabled tells whether the real-Kafka lane is on.
func Enabled() bool { return os.Getenv(EnvLane) == "1" }

// StartT starts a cluster for a test and stops it when the test ends,
// failed or not. It skips the test unless KMIGRATE_REAL_KAFKA=1, and fails
// it when the cluster cannot start. A killed broker stays dead across the
// test's cleanup, which kills every node anyway.
func StartT(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	if !Enabled() {
		t.Skipf("real Kafka lane off: set %s=1 (make test-kafka)", EnvLane)
	}
	if cfg.Name == "" {
		cfg.Name = "kafka"
	}
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s (Kafka %s) logs:\n%s", cfg.Name, cfg.Version, c.Logs(40))
		}
		c.Stop()
	})
	return c
}
