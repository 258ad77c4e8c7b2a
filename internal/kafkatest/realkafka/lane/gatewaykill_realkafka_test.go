package lane_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// gwKillProducer is the librdkafka producer of TestGatewayKill: idempotent,
// acks=all, one record per batch (batch.num.messages=1, so a duplicated
// batch is one duplicated record), writing "<name>-<seq>" (key
// "<name>-k<seq%10>") until its stdin closes, then flushing. It prints
// "ack VALUE PARTITION OFFSET LATENCY_MS ACKED_MS" per acknowledged record,
// "err VALUE REASON" per failed one, "fatal REASON" for a fatal error,
// "note REASON" for any other client error (a lost connection is one) and
// finally "done SENT LEFT".
const gwKillProducer = `import sys, threading, time
from confluent_kafka import Producer
bootstrap, topic, name = sys.argv[1:4]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
def on_error(err):
    print("fatal" if err.fatal() else "note", str(err).replace("\n", " "), flush=True)
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
              "linger.ms": 0, "batch.num.messages": 1, "max.in.flight.requests.per.connection": 5,
              "error_cb": on_error})
def done(sent):
    def cb(err, msg):
        v = msg.value().decode()
        if err is not None:
            print("err", v, str(err).replace("\n", " "), flush=True)
        else:
            now = time.time()
            print("ack", v, msg.partition(), msg.offset(), int((now - sent) * 1000), int(now * 1000), flush=True)
    return cb
i = 0
while not stop.is_set():
    p.produce(topic, key="%s-k%d" % (name, i % 10), value="%s-%d" % (name, i), on_delivery=done(time.time()))
    i += 1
    p.poll(0)
    time.sleep(0.005)
left = p.flush(120)
print("done", i, left, flush=True)
`

// startGatewayProcess runs `kmigrate gateway` for the migration on listen
// and httpAddr and waits for its /healthz; it returns the process, its
// output and its exit.
func startGatewayProcess(t *testing.T, m *migration, listen, httpAddr string) (*exec.Cmd, *strings.Builder, chan error) {
	t.Helper()
	cmd, out, done := startMirror(t, []string{"gateway", "-f", m.spec, "--log-level", "info",
		"--listen", listen, "--http", httpAddr, "--poll-interval", "200ms"})
	waitGw(t, "the gateway's /healthz", func() bool {
		select {
		case err := <-done:
			t.Fatalf("the gateway exited: %v\n%s", err, out)
		default:
		}
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return cmd, out, done
}

// TestGatewayKill is issue 15's kill -9 acceptance on real Kafka: a
// librdkafka producer (idempotent, acks=all, one record per batch) writes
// keyed records continuously through a `kmigrate gateway` process in front
// of a Kafka 3.9 source (the mirror copying it to 4.4); once records are
// acknowledged the process is killed with SIGKILL and a new one started on
// the same address. The producer carries on by itself: no delivery error,
// no fatal error, every record it sent acknowledged. The source then holds
// every acknowledged record, each partition's records in the producer's
// order (second copies aside), and within the limit docs/gateway.md states
// for a kill -9: at most the client's in-flight limit (5 batches, here 5
// records) per partition written a second time, each after its first copy.
func TestGatewayKill(t *testing.T) {
	p := pair(t, source39, target4)
	py := kafkatest.RequireClient(t, kafkatest.ClientPython)
	if err := exec.Command(py, "-c", "import confluent_kafka").Run(); err != nil {
		if os.Getenv(kafkatest.EnvRequireClients) == "1" {
			t.Fatalf("confluent-kafka not importable by %s (kafka/fetch installs it): %v", py, err)
		}
		t.Skipf("confluent-kafka not importable by %s (kafka/fetch installs it): %v", py, err)
	}
	topic := kafkatest.TopicName(t, "gwk")
	const seeded, partitions, inFlight = 30, 3, 5
	p.Source.CreateTopic(t, topic, partitions, map[string]string{"retention.ms": "-1"})
	var recs []*kgo.Record
	for i := range seeded {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % partitions), Key: fmt.Appendf(nil, "seed-k%d", i), Value: fmt.Appendf(nil, "seed-%d", i)})
	}
	p.Source.Produce(t, recs...)
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\nmirror:\n  transaction_interval: 50ms\n", topic))
	deleteAtCleanup(t, p.Target, topic)
	_, mirrorOut, mirrorDone := startMirror(t, m.args("mirror"))
	adm := kadm.NewClient(p.Target.Client(t, kgo.MetadataMinAge(50*time.Millisecond)))
	waitGw(t, "the mirror's first copies", func() bool {
		select {
		case err := <-mirrorDone:
			t.Fatalf("the mirror exited: %v\n%s", err, mirrorOut)
		default:
		}
		return endOffset(t, adm, topic) >= seeded
	})

	listen, httpAddr := gwFreeAddr(t), gwFreeAddr(t)
	first, firstOut, firstDone := startGatewayProcess(t, m, listen, httpAddr)
	var secondOut *strings.Builder
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("killed gateway output:\n%s\nrestarted gateway output:\n%v\nmirror output:\n%s", firstOut, secondOut, mirrorOut)
		}
	})
	script := filepath.Join(t.TempDir(), "produce.py")
	if err := os.WriteFile(script, []byte(gwKillProducer), 0o600); err != nil {
		t.Fatal(err)
	}
	prod := startGwClient(t, "librdkafka", py, script, listen, topic, "gk")

	const phase = 300 // acknowledged records before the kill, then after the restart
	waitGw(t, "writes through the first gateway", func() bool { return prod.count("ack ") >= phase }, prod)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-firstDone:
	case <-time.After(time.Minute): // hang guard
		t.Fatal("the killed gateway did not exit")
	}
	atKill := prod.count("ack ")
	_, secondOut, _ = startGatewayProcess(t, m, listen, httpAddr)
	waitGw(t, "writes through the restarted gateway", func() bool { return prod.count("ack ") >= atKill+phase }, prod)
	prod.stop(t)

	acks, errs := producerAcks(t, prod)
	if len(errs) > 0 {
		t.Errorf("librdkafka: %d delivery errors, first: %s", len(errs), errs[0])
	}
	notes := 0
	for _, l := range prod.snapshot() {
		switch {
		case strings.HasPrefix(l, "fatal "):
			t.Errorf("librdkafka: %s", l)
		case strings.HasPrefix(l, "note "):
			if notes++; notes <= 3 {
				t.Logf("librdkafka: %s", l)
			}
		}
	}
	lines := prod.snapshot()
	sent := -1
	if f := strings.Fields(lines[len(lines)-1]); len(f) == 3 && f[0] == "done" && f[2] == "0" {
		sent, _ = strconv.Atoi(f[1])
	}
	if sent != len(acks) {
		t.Errorf("librdkafka: sent and acknowledged differ: last line %q, %d acknowledged", lines[len(lines)-1], len(acks))
	}
	want := map[string]bool{}
	for _, a := range acks {
		want[a.value] = true
	}
	for i := range seeded {
		want[fmt.Sprintf("seed-%d", i)] = true
	}

	var values []gwValue
	for _, r := range consumeSettled(t, p.Source, topic) {
		values = append(values, gwValue{value: string(r.Value), partition: r.Partition})
	}
	dups := checkKillDelivery(t, values, want, inFlight)
	total := 0
	for _, n := range dups {
		total += n
	}
	t.Logf("librdkafka: %d records sent, %d acknowledged (%d before the kill), %d client error notes (lost connections); source: %d records read, %d wanted, %d duplicates (per partition %v, limit %d each)",
		sent, len(acks), atKill, notes, len(values), len(want), total, dups, inFlight)
}

// checkKillDelivery fails the test unless values (in per-partition read
// order) hold every wanted value and nothing else; each producer's records
// in sequence order per partition once second copies are left out; each
// second copy after its first, on the same partition; no value more than
// twice; and at most limit second copies per partition. It returns the
// number of second copies per partition.
func checkKillDelivery(t *testing.T, values []gwValue, want map[string]bool, limit int) map[int32]int {
	t.Helper()
	seen := map[string]int{}
	where := map[string]int32{}
	last := map[string]int{} // "<producer>/<partition>" -> last new sequence read
	dups := map[int32]int{}
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf("source: "+format, args...)
		}
	}
	for _, v := range values {
		seen[v.value]++
		if !want[v.value] {
			report("%s was never acknowledged", v.value)
		}
		if seen[v.value] > 1 {
			dups[v.partition]++
			if seen[v.value] > 2 {
				report("%s read %d times", v.value, seen[v.value])
			}
			if where[v.value] != v.partition {
				report("%s on partitions %d and %d", v.value, where[v.value], v.partition)
			}
			continue
		}
		where[v.value] = v.partition
		name, seq := gwSeq(t, v.value)
		k := fmt.Sprintf("%s/%d", name, v.partition)
		if prev, ok := last[k]; ok && seq <= prev {
			report("partition %d: %s after %s-%d", v.partition, v.value, name, prev)
		}
		last[k] = seq
	}
	for v := range want {
		if seen[v] == 0 {
			report("%s missing", v)
		}
	}
	for part, n := range dups {
		if n > limit {
			report("partition %d: %d records written twice, more than the in-flight limit %d", part, n, limit)
		}
	}
	return dups
}
