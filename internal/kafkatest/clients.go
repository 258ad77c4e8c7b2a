package kafkatest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Names of the third-party clients RequireClient knows.
const (
	ClientKcat   = "kcat"
	ClientPython = "confluent-kafka-python"
)

// Environment variables that control third-party client tests.
const (
	// EnvRequireClients, set to 1, turns a missing client from a skipped
	// test into a failed one. CI sets it so that interoperability tests
	// cannot silently stop running.
	EnvRequireClients = "KMIGRATE_REQUIRE_CLIENTS"
	// EnvPython overrides the interpreter used for confluent-kafka-python,
	// /usr/bin/python3 by default: Debian's python3-confluent-kafka only
	// loads in the system interpreter, not in a virtualenv's or pyenv's.
	EnvPython = "KMIGRATE_TEST_PYTHON"
)

const (
	defaultPython = "/usr/bin/python3"
	installHint   = "install it with `apt-get install -y kcat python3-confluent-kafka`"
)

// pythonChecks caches, per interpreter path, whether confluent_kafka
// imports: importing it takes a noticeable fraction of a second.
var pythonChecks sync.Map // string -> error

// RequireClient returns the path of the executable to run for the named
// third-party client: ClientKcat, or ClientPython (the Python interpreter,
// once confluent_kafka is known to import). When the client is missing it
// skips the test with instructions, or fails it when KMIGRATE_REQUIRE_CLIENTS
// is 1.
func RequireClient(t testing.TB, name string) string {
	t.Helper()
	if name != ClientKcat && name != ClientPython {
		t.Fatalf("RequireClient: unknown third-party client %q: use %q or %q", name, ClientKcat, ClientPython)
	}
	path, err := findClient(name)
	if err == nil {
		return path
	}
	if os.Getenv(EnvRequireClients) == "1" {
		t.Fatalf("%v (%s=1 makes this a failure)", err, EnvRequireClients)
	}
	t.Skipf("%v (set %s=1 to fail instead of skipping)", err, EnvRequireClients)
	return ""
}

func findClient(name string) (string, error) {
	switch name {
	case ClientKcat:
		for _, bin := range []string{"kcat", "kafkacat"} {
			if path, err := exec.LookPath(bin); err == nil {
				return path, nil
			}
		}
		return "", fmt.Errorf("kcat is not installed (not found in PATH): %s", installHint)
	case ClientPython:
		py := os.Getenv(EnvPython)
		if py == "" {
			py = defaultPython
		}
		v, ok := pythonChecks.Load(py)
		if !ok {
			v, _ = pythonChecks.LoadOrStore(py, checkPython(py))
		}
		if err, _ := v.(error); err != nil {
			return "", err
		}
		return py, nil
	default:
		panic("unreachable: RequireClient checked the name")
	}
}

// checkPython returns nil, or an error saying why confluent_kafka cannot be
// used with interpreter py.
func checkPython(py string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := os.Stat(py); err != nil {
		return fmt.Errorf("confluent-kafka-python: no Python interpreter at %s (%s overrides it): %s", py, EnvPython, installHint)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, py, "-c", "import confluent_kafka")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("confluent-kafka-python: %s cannot import confluent_kafka (%v: %s): %s", py, err, lastLines(stderr.Bytes(), 3), installHint)
	}
	return nil
}

// Message is a record as a third-party client produces or consumes it.
// Nil Key, Value or header Value means null, which Kafka distinguishes from
// empty.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       *string
	Value     *string
	Headers   []Header
	// Timestamp is the record's timestamp, at millisecond precision.
	Timestamp time.Time
}

// Header is a record header.
type Header struct {
	Key   string
	Value *string
}

// FromRecord converts a franz-go record to a Message, for comparing what
// franz-go and a third-party client see.
func FromRecord(r *kgo.Record) Message {
	m := Message{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Key:       bytesPtr(r.Key),
		Value:     bytesPtr(r.Value),
		Timestamp: r.Timestamp.Truncate(time.Millisecond),
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, Header{Key: h.Key, Value: bytesPtr(h.Value)})
	}
	return m
}

// Record converts m to a franz-go record, for producing with Cluster.Produce.
// Offset is not carried over: the broker assigns it.
func (m Message) Record() *kgo.Record {
	r := &kgo.Record{
		Topic:     m.Topic,
		Partition: m.Partition,
		Key:       strBytes(m.Key),
		Value:     strBytes(m.Value),
		Timestamp: m.Timestamp,
	}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: strBytes(h.Value)})
	}
	return r
}

// headersEqual compares header lists by value, null apart from empty.
func headersEqual(a, b []Header) bool {
	return slices.EqualFunc(a, b, func(x, y Header) bool {
		return x.Key == y.Key && (x.Value == nil) == (y.Value == nil) && (x.Value == nil || *x.Value == *y.Value)
	})
}

// sortMessages orders messages by topic, partition, then offset.
func sortMessages(msgs []Message) {
	slices.SortStableFunc(msgs, func(a, b Message) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
}

func bytesPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func strBytes(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

// Metadata is cluster metadata as a third-party client reports it.
type Metadata struct {
	// ClusterID is empty when the client does not report it (kcat).
	ClusterID string
	// Brokers are sorted by ID.
	Brokers []Broker
	// Topics are sorted by name.
	Topics []TopicMetadata
}

func (m *Metadata) sort() {
	slices.SortFunc(m.Brokers, func(a, b Broker) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(m.Topics, func(a, b TopicMetadata) int { return strings.Compare(a.Name, b.Name) })
	for _, t := range m.Topics {
		slices.SortFunc(t.Partitions, func(a, b PartitionMetadata) int { return cmp.Compare(a.ID, b.ID) })
	}
}

// Broker is a broker in Metadata.
type Broker struct {
	ID   int32
	Addr string // host:port
}

// TopicMetadata is a topic in Metadata.
type TopicMetadata struct {
	Name string
	// Partitions are sorted by ID.
	Partitions []PartitionMetadata
	// Err is the client's error text for the topic, empty when none.
	Err string
}

// PartitionMetadata is a partition in TopicMetadata.
type PartitionMetadata struct {
	ID       int32
	Leader   int32
	Replicas []int32
}

// librdkafkaProps returns the librdkafka configuration equivalent to c,
// as ordered key/value pairs, writing inline PEM material into dir. Both kcat and confluent-kafka-python are
// librdkafka, so both drivers use it. Settings librdkafka cannot express are
// errors rather than silently dropped.
func librdkafkaProps(c *config.Cluster, dir string) ([][2]string, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := c.Protocol()
	props := [][2]string{
		{"bootstrap.servers", strings.Join(c.Bootstrap, ",")},
		{"security.protocol", strings.ToLower(string(p))},
		{"socket.connection.setup.timeout.ms", strconv.FormatInt(c.Timeout().Milliseconds(), 10)},
	}
	if c.ClientID != "" {
		props = append(props, [2]string{"client.id", c.ClientID})
	}
	if p.UsesTLS() {
		t := c.TLS
		if t.ServerName != "" {
			return nil, fmt.Errorf("%s: librdkafka cannot verify brokers against another name (tls.server_name %q)", c.Role, t.ServerName)
		}
		keyFile, keyPEM := t.KeyFile, t.KeyPEM.Reveal()
		if keyFile == "" && keyPEM == "" {
			// A PEM keystore holds the key with the certificate;
			// OpenSSL finds the key block.
			keyFile, keyPEM = t.CertFile, t.CertPEM
		}
		// A file wins over inline PEM, as in internal/cluster. Inline PEM
		// is written to a file in dir because kcat's properties file
		// cannot hold multi-line values.
		for _, m := range []struct{ prop, file, pem, name string }{
			{"ssl.ca.location", t.CAFile, t.CAPEM, "ca.pem"},
			{"ssl.certificate.location", t.CertFile, t.CertPEM, "cert.pem"},
			{"ssl.key.location", keyFile, keyPEM, "key.pem"},
		} {
			file := m.file
			if file == "" && m.pem != "" {
				file = filepath.Join(dir, m.name)
				if err := os.WriteFile(file, []byte(m.pem), 0o600); err != nil {
					return nil, fmt.Errorf("%s: write inline PEM: %w", c.Role, err)
				}
			}
			if file != "" {
				props = append(props, [2]string{m.prop, file})
			}
		}
		if t.InsecureSkipVerify {
			props = append(props,
				[2]string{"enable.ssl.certificate.verification", "false"},
				[2]string{"ssl.endpoint.identification.algorithm", "none"})
		}
	}
	if p.UsesSASL() {
		props = append(props,
			[2]string{"sasl.mechanisms", string(c.SASL.Mechanism)},
			[2]string{"sasl.username", c.SASL.Username},
			[2]string{"sasl.password", c.SASL.Password.Reveal()})
	}
	return props, nil
}

// runTimeout bounds one run of a third-party client when the caller's
// context has no earlier deadline.
const runTimeout = 30 * time.Second

// run runs a client executable with stdin and returns its stdout. The error
// names the command and carries the end of stderr, where librdkafka explains
// itself. Arguments never hold secrets (those travel in files), so they are
// safe to print.
func run(ctx context.Context, stdin []byte, path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A killed client's children could hold the pipes open; don't wait
	// for them forever.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w; stderr: %s", path, strings.Join(args, " "), err, lastLines(stderr.Bytes(), 20))
	}
	return stdout.Bytes(), nil
}

// lastLines returns the last n lines of b, for error messages.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := strings.Join(lines, "\n")
	if s == "" {
		return "(empty)"
	}
	return s
}
