package gateway_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// javaClients is the kafka-clients version the Java test runs.
const javaClients = "4.4.0"

// javaProducer returns the java launcher and the classpath of
// kafka-clients from the real-Kafka cache (kafka/fetch), or skips (fails
// with KMIGRATE_REQUIRE_CLIENTS=1).
func javaProducer(t *testing.T) (string, string) {
	t.Helper()
	java, err := exec.LookPath("java")
	lib := filepath.Join(realkafka.CacheDir(), javaClients, "lib")
	if err == nil {
		_, err = os.Stat(filepath.Join(lib, "kafka-clients-"+javaClients+".jar"))
	}
	if err != nil {
		msg := "no java or no kafka-clients " + javaClients + " in " + lib + " (run kafka/fetch " + javaClients + "): " + err.Error()
		if os.Getenv(kafkatest.EnvRequireClients) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return java, filepath.Join(lib, "*")
}

// TestJavaProducerAcrossPromotion is the librdkafka test for the Java
// producer (idempotent by default).
func TestJavaProducerAcrossPromotion(t *testing.T) {
	java, cp := javaProducer(t)
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	startMirror(t, pair, name, topic)
	gw, gated := gatedGateway(t, pair, name, topic)
	produce := func(from, to int) error {
		ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, java, "-cp", cp, "testdata/JavaProduce.java", gw.Addr(), topic,
			strconv.Itoa(from), strconv.Itoa(to)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("java produce %d..%d: %w\n%s", from, to, err, out)
		}
		return nil
	}
	if err := produce(0, 100); err != nil {
		t.Fatal(err)
	}
	pause := heldSwitch(t, gw, gated, topic, func() error { return produce(100, 400) })
	t.Logf("writes paused %v", pause)
	if err := produce(400, 500); err != nil {
		t.Fatal(err)
	}
	assertSwitched(t, pair, topic, 100, 500)
}
