package gateway_test

import (
	"context"
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
// one while it runs, one after; no delivery error, and every record once
// per partition in order on the target, copies first.
func TestKafkaPythonProducerAcrossPromotion(t *testing.T) {
	py := kafkaPython(t)
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	startMirror(t, pair, name, topic)
	gw := startGateway(t, pair, gatewayOptions(t, pair, name, topic))
	produce := func(from, to int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "testdata/kafkapython_produce.py", gw.Addr(), topic,
			strconv.Itoa(from), strconv.Itoa(to)).CombinedOutput()
		if err != nil {
			t.Fatalf("kafka-python produce %d..%d: %v\n%s", from, to, err, out)
		}
	}
	produce(0, 100)
	switched := make(chan error, 1)
	go func() {
		sw, err := gw.Promote(context.WithoutCancel(t.Context()), topic)
		if err == nil {
			t.Logf("writes paused %v", sw.Pause)
		}
		switched <- err
	}()
	produce(100, 400)
	if err := <-switched; err != nil {
		t.Fatalf("Promote: %v", err)
	}
	produce(400, 500)
	assertSplitAnywhere(t, pair, topic, 500)
}
