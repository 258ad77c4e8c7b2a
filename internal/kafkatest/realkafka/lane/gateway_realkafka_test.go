package lane_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// The clients of TestGatewayPromotion. Each producer writes keyed records
// "<name>-<seq>" (key "<name>-k<seq%10>", partitioned by its own
// partitioner) at a steady rate until its stdin closes, then flushes and
// exits; it prints "ack VALUE PARTITION OFFSET LATENCY_MS ACKED_MS" per acknowledged
// record (LATENCY_MS from send to acknowledgement, then the
// acknowledgement's wall-clock time in Unix milliseconds) and
// "err VALUE REASON" per failed one. The consumer, a librdkafka
// group member, prints "rec VALUE PARTITION OFFSET" per record and reads on
// for two seconds after its stdin closes (a duplicate would show).
const (
	gwRdkafkaProducer = `import sys, threading, time
from confluent_kafka import Producer
bootstrap, topic, name = sys.argv[1:4]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
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
    time.sleep(0.02)
left = p.flush(60)
print("done", i, left, flush=True)
`
	gwKafkaPythonProducer = `import sys, threading, time
from kafka import KafkaProducer
bootstrap, topic, name = sys.argv[1:4]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
p = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                  retries=2147483647, max_in_flight_requests_per_connection=5, linger_ms=5)
lock = threading.Lock()
def out(*a):
    with lock:
        print(*a, flush=True)
i = 0
while not stop.is_set():
    v, sent = "%s-%d" % (name, i), time.time()
    f = p.send(topic, key=("%s-k%d" % (name, i % 10)).encode(), value=v.encode())
    f.add_callback(lambda md, v=v, sent=sent: out("ack", v, md.partition, md.offset, int((time.time() - sent) * 1000), int(time.time() * 1000)))
    f.add_errback(lambda e, v=v: out("err", v, repr(e).replace("\n", " ")))
    i += 1
    time.sleep(0.02)
p.flush(timeout=60)
p.close(timeout=10)
out("done", i, 0)
`
	gwJavaProducer = `import java.io.InputStream;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class GwProduce {
    static volatile boolean stop;
    public static void main(String[] args) throws Exception {
        Thread t = new Thread(() -> {
            try { InputStream in = System.in; while (in.read() >= 0) {} } catch (Exception e) {}
            stop = true;
        });
        t.setDaemon(true);
        t.start();
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("acks", "all");
        props.put("enable.idempotence", "true");
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        String topic = args[1], name = args[2];
        int i = 0;
        try (KafkaProducer<String, String> p = new KafkaProducer<>(props)) {
            for (; !stop; i++) {
                String v = name + "-" + i;
                long sent = System.nanoTime();
                p.send(new ProducerRecord<>(topic, name + "-k" + (i % 10), v), (md, e) -> {
                    synchronized (System.out) {
                        if (e != null) {
                            System.out.println("err " + v + " " + e.toString().replace('\n', ' '));
                        } else {
                            System.out.println("ack " + v + " " + md.partition() + " " + md.offset() + " " + (System.nanoTime() - sent) / 1000000 + " " + System.currentTimeMillis());
                        }
                    }
                });
                Thread.sleep(20);
            }
            p.flush();
        }
        synchronized (System.out) {
            System.out.println("done " + i + " 0");
        }
    }
}
`
	gwRdkafkaConsumer = `import sys, threading, time
from confluent_kafka import Consumer
bootstrap, group, topic = sys.argv[1:4]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
              "isolation.level": "read_committed", "enable.auto.commit": True})
c.subscribe([topic])
until = None
while until is None or time.time() < until:
    if until is None and stop.is_set():
        until = time.time() + 2
    m = c.poll(0.2)
    if m is None:
        continue
    if m.error():
        print("err", str(m.error()).replace("\n", " "), flush=True)
        continue
    print("rec", m.value().decode(), m.partition(), m.offset(), flush=True)
c.close()
print("done", flush=True)
`
)

// gwClient is a client process of TestGatewayPromotion whose stdout lines
// are collected as they come; closing its stdin asks it to stop.
type gwClient struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr syncBuffer
	done   chan error

	mu    sync.Mutex
	lines []string
}

// syncBuffer is a strings.Builder safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startGwClient(t *testing.T, name string, argv ...string) *gwClient {
	t.Helper()
	c := &gwClient{name: name, cmd: exec.Command(argv[0], argv[1:]...), done: make(chan error, 1)}
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
		c.done <- c.cmd.Wait()
	}()
	return c
}

// snapshot returns the lines printed so far.
func (c *gwClient) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

// count returns how many lines so far start with prefix.
func (c *gwClient) count(prefix string) int {
	n := 0
	for _, l := range c.snapshot() {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// tail describes the client's last output lines and the end of its
// stderr.
func (c *gwClient) tail() string {
	lines := c.snapshot()
	lines = lines[max(0, len(lines)-10):]
	errOut := c.stderr.String()
	return fmt.Sprintf("last lines %q; stderr: %s", lines, errOut[max(0, len(errOut)-2000):])
}

// stop closes the client's stdin and waits for it to exit 0.
func (c *gwClient) stop(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, c.stderr.String())
		}
	case <-time.After(3 * time.Minute): // hang guard
		t.Fatalf("%s did not stop\n%s", c.name, c.stderr.String())
	}
}

// waitGw polls cond until it holds, failing if a client exits meanwhile.
func waitGw(t *testing.T, what string, cond func() bool, clients ...*gwClient) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // hang guard
	for !cond() {
		for _, c := range clients {
			select {
			case err := <-c.done:
				t.Fatalf("waiting for %s: %s exited (%v)\n%s", what, c.name, err, c.stderr.String())
			default:
			}
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, c := range clients {
				fmt.Fprintf(&b, "\n%s: %s", c.name, c.tail())
			}
			t.Fatalf("waiting for %s: still not after 3 minutes%s", what, b.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// gwFreeAddr returns a loopback address nothing listens on.
func gwFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// gwAck is one acknowledged record of a producer.
type gwAck struct {
	value   string
	latency time.Duration
	acked   time.Time
}

// producerAcks parses a producer's output: its acknowledged records in
// acknowledgement order, and its errors.
func producerAcks(t *testing.T, c *gwClient) ([]gwAck, []string) {
	t.Helper()
	var acks []gwAck
	var errs []string
	for _, l := range c.snapshot() {
		f := strings.Fields(l)
		switch {
		case len(f) == 6 && f[0] == "ack":
			ms, err1 := strconv.Atoi(f[4])
			at, err2 := strconv.ParseInt(f[5], 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %q: %v %v", c.name, l, err1, err2)
			}
			acks = append(acks, gwAck{value: f[1], latency: time.Duration(ms) * time.Millisecond, acked: time.UnixMilli(at)})
		case len(f) > 0 && f[0] == "err":
			errs = append(errs, l)
		}
	}
	return acks, errs
}

// gwSeq splits "<name>-<seq>" (name may hold dashes).
func gwSeq(t *testing.T, v string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(v, '-')
	n, err := strconv.Atoi(v[i+1:])
	if i < 0 || err != nil {
		t.Fatalf("unexpected record value %q", v)
	}
	return v[:i], n
}

// startGatewayLane creates topic on the source with seeded keyed records
// ("seed-<i>", key "seed-k<i%10>"), runs kmigrate mirror until it has
// copied them and kmigrate gateway in front of the pair, until the test
// ends; it returns the migration and the gateway's Kafka and HTTP
// addresses.
func startGatewayLane(t *testing.T, p *kafkatest.Pair, topic string, seeded int) (*migration, string, string) {
	t.Helper()
	p.Source.CreateTopic(t, topic, 3, map[string]string{"retention.ms": "-1"})
	var recs []*kgo.Record
	for i := range seeded {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 10 % 3), Key: fmt.Appendf(nil, "seed-k%d", i%10), Value: fmt.Appendf(nil, "seed-%d", i)})
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
		return endOffset(t, adm, topic) >= int64(seeded)
	})

	listen, httpAddr := gwFreeAddr(t), gwFreeAddr(t)
	_, gwOut, gwDone := startMirror(t, []string{"gateway", "-f", m.spec, "--log-level", "info",
		"--listen", listen, "--http", httpAddr, "--poll-interval", "200ms"})
	waitGw(t, "the gateway's /healthz", func() bool {
		select {
		case err := <-gwDone:
			t.Fatalf("the gateway exited: %v\n%s", err, gwOut)
		default:
		}
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway output:\n%s\nmirror output:\n%s", gwOut, mirrorOut)
		}
	})

	return m, listen, httpAddr
}

// TestGatewayPromotion is issue 15's acceptance on real Kafka: librdkafka
// (confluent-kafka), the Java producer (kafka-clients 4.4, idempotent) and
// kafka-python (idempotent) write keyed records continuously through
// `kmigrate gateway` while `kmigrate mirror` copies a Kafka 3.9 source to a
// 4.4 target, and a librdkafka consumer group reads through the gateway;
// `kmigrate gateway promote` switches the topic in the middle. No producer
// sees an error; every acknowledged record is on the target exactly once,
// every key's and every partition's records in the order they were sent;
// the group reads every record exactly once. The producers' pause (their
// longest produce latency) is printed, not asserted.
func TestGatewayPromotion(t *testing.T) {
	p := pair(t, source39, target4)
	py := kafkatest.RequireClient(t, kafkatest.ClientPython)
	if err := exec.Command(py, "-c", "import kafka, confluent_kafka").Run(); err != nil {
		t.Skipf("kafka-python or confluent-kafka not importable by %s (kafka/fetch installs them): %v", py, err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skipf("no java: %v", err)
	}
	topic, group := kafkatest.TopicName(t, "gw"), kafkatest.TopicName(t, "gwgroup")
	const seeded = 300
	_, listen, httpAddr := startGatewayLane(t, p, topic, seeded)

	dir := t.TempDir()
	script := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	jcp := filepath.Join(realkafka.CacheDir(), realkafka.KRaftVersion, "lib", "*")
	consumer := startGwClient(t, "librdkafka consumer", py, script("consume.py", gwRdkafkaConsumer), listen, group, topic)
	producers := []*gwClient{
		startGwClient(t, "librdkafka", py, script("rdkafka.py", gwRdkafkaProducer), listen, topic, "rdkafka"),
		startGwClient(t, "java", java, "-cp", jcp, script("GwProduce.java", gwJavaProducer), listen, topic, "java"),
		startGwClient(t, "kafka-python", py, script("kafkapython.py", gwKafkaPythonProducer), listen, topic, "kafkapython"),
	}
	all := append(slices.Clone(producers), consumer)
	acked := func(n int) func() bool {
		return func() bool {
			for _, c := range producers {
				if c.count("ack ") < n {
					return false
				}
			}
			return true
		}
	}
	const perPhase = 150 // acknowledged records per producer before, then after, the switch
	waitGw(t, "writes through the gateway to the source", acked(perPhase), all...)
	before := make([]int, len(producers))
	for i, c := range producers {
		before[i] = c.count("ack ")
	}
	promoteStart := time.Now()
	out := mustRun(t, "gateway", "promote", "--http", httpAddr, "--topic", topic)
	promoteEnd := time.Now()
	t.Logf("gateway promote: %s", strings.TrimSpace(out))
	waitGw(t, "writes through the gateway to the target", func() bool {
		for i, c := range producers {
			if c.count("ack ") < before[i]+perPhase {
				return false
			}
		}
		return true
	}, all...)
	for _, c := range producers {
		c.stop(t)
	}

	// What the producers saw: no error, every record acknowledged.
	want := map[string]bool{}
	for i := range seeded {
		want[fmt.Sprintf("seed-%d", i)] = true
	}
	for _, c := range producers {
		acks, errs := producerAcks(t, c)
		if len(errs) > 0 {
			t.Errorf("%s: %d delivery errors, first: %s", c.name, len(errs), errs[0])
		}
		lines := c.snapshot()
		// Its pause: the longest latency of a record acknowledged
		// from the promotion's start to a second after its end.
		var pause, longest time.Duration
		for _, a := range acks {
			want[a.value] = true
			longest = max(longest, a.latency)
			if !a.acked.Before(promoteStart) && a.acked.Before(promoteEnd.Add(time.Second)) {
				pause = max(pause, a.latency)
			}
		}
		t.Logf("%s: %d records acknowledged (%d before the promotion); pause across the switch %v (longest produce latency of the run %v)",
			c.name, len(acks), before[slices.Index(producers, c)], pause, longest)
		if f := strings.Fields(lines[len(lines)-1]); len(f) != 3 || f[0] != "done" || f[1] != strconv.Itoa(len(acks)) {
			t.Errorf("%s: sent and acknowledged differ: last line %q, %d acknowledged", c.name, lines[len(lines)-1], len(acks))
		}
	}

	// The target: every acknowledged record once, in order per key and
	// per partition.
	got := consumeSettled(t, p.Target, topic)
	var values []gwValue
	for _, r := range got {
		values = append(values, gwValue{value: string(r.Value), partition: r.Partition})
	}
	checkOnceInOrder(t, "target", values, want)

	// The group read through the gateway across the switch: every record
	// once, each partition in order.
	waitGw(t, "the consumer group to read every record", func() bool {
		read := map[string]bool{}
		for _, l := range consumer.snapshot() {
			if f := strings.Fields(l); len(f) == 4 && f[0] == "rec" {
				read[f[1]] = true
			}
		}
		return len(read) >= len(want)
	}, consumer)
	consumer.stop(t)
	values = values[:0]
	for _, l := range consumer.snapshot() {
		f := strings.Fields(l)
		switch {
		case len(f) == 4 && f[0] == "rec":
			part, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatalf("consumer: %q: %v", l, err)
			}
			values = append(values, gwValue{value: f[1], partition: int32(part)})
		case len(f) > 0 && f[0] == "err":
			t.Errorf("consumer: %s", l)
		}
	}
	checkOnceInOrder(t, "consumer group through the gateway", values, want)
}

// gwValue is a record read: its value and partition.
type gwValue struct {
	value     string
	partition int32
}

// checkOnceInOrder fails the test unless values (in per-partition read
// order) hold every wanted value exactly once and nothing else, each
// producer's records in sequence order within a partition, and each key
// on one partition only: so every key's records are in the order sent.
func checkOnceInOrder(t *testing.T, where string, values []gwValue, want map[string]bool) {
	t.Helper()
	seen := map[string]int{}
	last := map[string]int{}      // "<producer>/<partition>" -> last sequence read
	keyPart := map[string]int32{} // key -> its partition
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(where+": "+format, args...)
		}
	}
	for _, v := range values {
		if seen[v.value]++; seen[v.value] == 2 {
			report("%s read twice", v.value)
		}
		if !want[v.value] {
			report("%s was never acknowledged", v.value)
		}
		name, seq := gwSeq(t, v.value)
		k := fmt.Sprintf("%s/%d", name, v.partition)
		if prev, ok := last[k]; ok && seq <= prev {
			report("partition %d: %s after %s-%d", v.partition, v.value, name, prev)
		}
		last[k] = seq
		key := fmt.Sprintf("%s-k%d", name, seq%10)
		if p, ok := keyPart[key]; ok && p != v.partition {
			report("key %s on partitions %d and %d", key, p, v.partition)
		}
		keyPart[key] = v.partition
	}
	for v := range want {
		if seen[v] == 0 {
			report("%s missing", v)
		}
	}
	t.Logf("%s: %d records read, %d distinct, %d wanted", where, len(values), len(seen), len(want))
}

// TestPromoteThroughGateways: kmigrate promote, run while kmigrate gateway
// serves a librdkafka producer writing continuously, switches the topic
// through the gateway (it holds the writes, the lag drains, the gateway
// then writes to the target): no delivery error, and the target holds
// every acknowledged record once, in order per key and partition.
func TestPromoteThroughGateways(t *testing.T) {
	p := pair(t, source39, target4)
	py := kafkatest.RequireClient(t, kafkatest.ClientPython)
	topic := kafkatest.TopicName(t, "gwp")
	const seeded = 90
	m, listen, _ := startGatewayLane(t, p, topic, seeded)
	script := filepath.Join(t.TempDir(), "rdkafka.py")
	if err := os.WriteFile(script, []byte(gwRdkafkaProducer), 0o600); err != nil {
		t.Fatal(err)
	}
	prod := startGwClient(t, "librdkafka", py, script, listen, topic, "rdkafka")
	waitGw(t, "writes through the gateway", func() bool { return prod.count("ack ") >= 100 }, prod)
	out := mustRun(t, m.args("promote", "--topic", topic)...)
	t.Logf("kmigrate promote:\n%s", out)
	if !strings.Contains(out, "Switched through gateways") || !strings.Contains(out, topic+": writes paused") {
		t.Errorf("promote output lacks the switch through the gateway:\n%s", out)
	}
	n := prod.count("ack ")
	waitGw(t, "writes after the promotion", func() bool { return prod.count("ack ") >= n+100 }, prod)
	prod.stop(t)
	acks, errs := producerAcks(t, prod)
	if len(errs) > 0 {
		t.Errorf("librdkafka: %d delivery errors, first: %s", len(errs), errs[0])
	}
	want := map[string]bool{}
	for i := range seeded {
		want[fmt.Sprintf("seed-%d", i)] = true
	}
	for _, a := range acks {
		want[a.value] = true
	}
	var values []gwValue
	for _, r := range consumeSettled(t, p.Target, topic) {
		values = append(values, gwValue{value: string(r.Value), partition: r.Partition})
	}
	checkOnceInOrder(t, "target", values, want)
}
