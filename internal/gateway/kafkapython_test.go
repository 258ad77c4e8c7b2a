package gateway_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// kafkaPython returns a Python interpreter that imports kafka-python 2.1
// or later (idempotent producer), from KMIGRATE_KAFKA_PYTHON or PATH, or
// skips (fails with KMIGRATE_REQUIRE_CLIENTS=1).
func kafkaPython(t *testing.T) string {
	t.Helper()
	py := os.Getenv("KMIGRATE_KAFKA_PYTHON")
	if py == "" {
		py = "python3"
	}
	check := "import kafka, sys; v = tuple(int(x) for x in kafka.__version__.split('.')[:2]); sys.exit(0 if v >= (2, 1) else 1)"
	if err := exec.CommandContext(t.Context(), py, "-c", check).Run(); err != nil {
		msg := "kafka-python 2.1+ not importable by " + py + " (pip install kafka-python; KMIGRATE_KAFKA_PYTHON names the interpreter)"
		if os.Getenv(kafkatest.EnvRequireClients) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// TestKafkaPythonProducerAcrossPromotion is the librdkafka test for
// kafka-python's idempotent producer: one producer before the promotion,
// one whose writes the switch holds, one after; no delivery error, and every record once
// per partition in order on the target, copies first.
func TestKafkaPythonProducerAcrossPromotion(t *testing.T) {
	py := kafkaPython(t)
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	startMirror(t, pair, name, topic)
	gw, gated := gatedGateway(t, pair, name, topic)
	produce := func(from, to int) error {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "testdata/kafkapython_produce.py", gw.Addr(), topic,
			strconv.Itoa(from), strconv.Itoa(to)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("kafka-python produce %d..%d: %w\n%s", from, to, err, out)
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
