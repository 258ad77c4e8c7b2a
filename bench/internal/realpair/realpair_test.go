package realpair

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

func TestConfigsDefaults(t *testing.T) {
	got := Config{Version: "4.4.0", Dir: "/d", TargetBrokers: 3, SourceJVMOpts: BenchJVMOpts}.configs()
	src, tgt := got[0], got[1]
	if src.Name != "source" || src.Dir != "/d/source" || src.Brokers != 1 || src.Version != "4.4.0" ||
		src.StartTimeout != DefaultStartTimeout || !slices.Equal(src.JVMOpts, BenchJVMOpts) {
		t.Fatalf("source config %+v", src)
	}
	if tgt.Name != "target" || tgt.Dir != "/d/target" || tgt.Brokers != 3 || tgt.JVMOpts != nil ||
		tgt.StartTimeout != DefaultStartTimeout {
		t.Fatalf("target config %+v", tgt)
	}
}

func TestConfigsTimeout(t *testing.T) {
	got := Config{StartTimeout: time.Minute}.configs()
	if got[0].StartTimeout != time.Minute || got[1].StartTimeout != time.Minute {
		t.Fatalf("timeouts %v, %v", got[0].StartTimeout, got[1].StartTimeout)
	}
}

// TestStopTwice: Stop of a pair that never started, or is stopped already,
// does nothing.
func TestStopTwice(t *testing.T) {
	var p Pair
	p.Stop()
	p.Stop()
}

// TestStartRealKafka starts a one-broker pair on the real-Kafka lane.
func TestStartRealKafka(t *testing.T) {
	if !realkafka.Enabled() {
		t.Skipf("set %s=1 to start real Kafka", realkafka.EnvLane)
	}
	p, err := Start(context.Background(), Config{Version: realkafka.KRaftVersion, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if len(p.Source) != 1 || len(p.Target) != 1 || p.Source[0] == p.Target[0] {
		t.Fatalf("bootstraps %v, %v", p.Source, p.Target)
	}
}
