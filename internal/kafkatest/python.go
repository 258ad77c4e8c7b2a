package kafkatest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

//go:embed kafkatest_client.py
var pythonScript []byte

// Python drives confluent-kafka-python (librdkafka) through an embedded
// script, kafkatest_client.py, run with the system interpreter. Unlike
// kcat it carries binary keys, values and headers exactly, sets record
// timestamps, and commits group offsets synchronously, so tests can assert
// the offsets a Python consumer leaves behind.
//
// librdkafka's SASL handshake fails against kfake, so use it with kfake
// only over PLAINTEXT or TLS.
type Python struct {
	interpreter string
	script      string
	conf        string // JSON file of librdkafka properties
}

// NewPython returns a confluent-kafka-python driver for c, skipping the
// test when the module is missing (see RequireClient). The script and the
// connection settings are written into the test's temporary directory.
func NewPython(t testing.TB, c *Cluster) *Python {
	t.Helper()
	interpreter := RequireClient(t, ClientPython)
	dir := t.TempDir()
	props, err := librdkafkaProps(&c.Config, dir)
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	conf := make(map[string]string, len(props))
	for _, kv := range props {
		conf[kv[0]] = kv[1]
	}
	b, err := json.Marshal(conf)
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	p := &Python{
		interpreter: interpreter,
		script:      filepath.Join(dir, "kafkatest_client.py"),
		conf:        filepath.Join(dir, "librdkafka.json"),
	}
	if err := os.WriteFile(p.script, pythonScript, 0o600); err != nil {
		t.Fatalf("python: %v", err)
	}
	if err := os.WriteFile(p.conf, b, 0o600); err != nil {
		t.Fatalf("python: %v", err)
	}
	return p
}

func (p *Python) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	return run(ctx, stdin, p.interpreter, append([]string{p.script, "--config", p.conf}, args...)...)
}

// Metadata lists the cluster id, brokers and topics.
func (p *Python) Metadata(ctx context.Context) (Metadata, error) {
	out, err := p.run(ctx, nil, "metadata")
	if err != nil {
		return Metadata{}, fmt.Errorf("python metadata: %w", err)
	}
	var raw struct {
		ClusterID string `json:"cluster_id"`
		Brokers   []struct {
			ID   int32  `json:"id"`
			Host string `json:"host"`
			Port int    `json:"port"`
		} `json:"brokers"`
		Topics []struct {
			Topic      string `json:"topic"`
			Error      string `json:"error"`
			Partitions []struct {
				ID       int32   `json:"id"`
				Leader   int32   `json:"leader"`
				Replicas []int32 `json:"replicas"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return Metadata{}, fmt.Errorf("python metadata: parse %q: %w", out, err)
	}
	m := Metadata{ClusterID: raw.ClusterID}
	for _, b := range raw.Brokers {
		m.Brokers = append(m.Brokers, Broker{ID: b.ID, Addr: b.Host + ":" + strconv.Itoa(b.Port)})
	}
	for _, t := range raw.Topics {
		tm := TopicMetadata{Name: t.Topic, Err: t.Error}
		for _, p := range t.Partitions {
			tm.Partitions = append(tm.Partitions, PartitionMetadata{ID: p.ID, Leader: p.Leader, Replicas: p.Replicas})
		}
		m.Topics = append(m.Topics, tm)
	}
	m.sort()
	return m, nil
}

// Produce writes msgs, each to its Topic and Partition, in order, with an
// idempotent producer, and returns them as delivered: with the offsets and
// timestamps the cluster assigned. A zero Timestamp lets the client choose.
func (p *Python) Produce(ctx context.Context, msgs []Message) ([]Message, error) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, m := range msgs {
		if err := enc.Encode(toPyMessage(m)); err != nil {
			return nil, fmt.Errorf("python produce: %w", err)
		}
	}
	out, err := p.run(ctx, in.Bytes(), "produce")
	if err != nil {
		return nil, fmt.Errorf("python produce: %w", err)
	}
	delivered, err := parsePyMessages(out)
	if err != nil {
		return nil, fmt.Errorf("python produce: %w", err)
	}
	if len(delivered) != len(msgs) {
		return nil, fmt.Errorf("python produce: %d of %d messages reported delivered", len(delivered), len(msgs))
	}
	return delivered, nil
}

// ConsumeGroup consumes topics as a member of group, from the committed
// offsets or else the earliest, until it has max messages (when max > 0) or
// every assigned partition is at its end. It then commits, synchronously,
// the offsets just after the last message it returned for each partition,
// and leaves the group. The messages are ordered by topic, partition, then
// offset.
func (p *Python) ConsumeGroup(ctx context.Context, group string, topics []string, max int) ([]Message, error) {
	out, err := p.run(ctx, nil, "consume", "--group", group, "--topics", strings.Join(topics, ","),
		"--max", strconv.Itoa(max), "--commit")
	if err != nil {
		return nil, fmt.Errorf("python consume group %q: %w", group, err)
	}
	msgs, err := parsePyMessages(out)
	if err != nil {
		return nil, fmt.Errorf("python consume group %q: %w", group, err)
	}
	sortMessages(msgs)
	return msgs, nil
}

// Consume reads all partitions of topic, or the given ones, from their
// start to their high watermarks as of the call, without a group. The
// messages are ordered by partition, then offset.
func (p *Python) Consume(ctx context.Context, topic string, partitions ...int32) ([]Message, error) {
	ps := make([]string, len(partitions))
	for i, pt := range partitions {
		ps[i] = strconv.Itoa(int(pt))
	}
	return p.consumeRange(ctx, "--topic", topic, "--partitions", strings.Join(ps, ","))
}

// ConsumeRange reads offsets [start, end) of one partition without a group.
func (p *Python) ConsumeRange(ctx context.Context, topic string, partition int32, start, end int64) ([]Message, error) {
	return p.consumeRange(ctx, "--topic", topic, "--partitions", strconv.Itoa(int(partition)),
		"--start", strconv.FormatInt(start, 10), "--end", strconv.FormatInt(end, 10))
}

func (p *Python) consumeRange(ctx context.Context, args ...string) ([]Message, error) {
	out, err := p.run(ctx, nil, append([]string{"consume-range"}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("python consume: %w", err)
	}
	msgs, err := parsePyMessages(out)
	if err != nil {
		return nil, fmt.Errorf("python consume: %w", err)
	}
	sortMessages(msgs)
	return msgs, nil
}

// pyMessage is a message as kafkatest_client.py reads and writes it:
// base64 for bytes, null for null, milliseconds for the timestamp.
type pyMessage struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Headers   [][2]*string `json:"headers"`
	Timestamp int64        `json:"timestamp"`
}

func toPyMessage(m Message) pyMessage {
	pm := pyMessage{
		Topic:     m.Topic,
		Partition: m.Partition,
		Key:       encode64(m.Key),
		Value:     encode64(m.Value),
		Headers:   [][2]*string{},
	}
	if !m.Timestamp.IsZero() {
		pm.Timestamp = m.Timestamp.UnixMilli()
	}
	for _, h := range m.Headers {
		k := h.Key
		pm.Headers = append(pm.Headers, [2]*string{&k, encode64(h.Value)})
	}
	return pm
}

func parsePyMessages(out []byte) ([]Message, error) {
	var msgs []Message
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var pm pyMessage
		if err := dec.Decode(&pm); errors.Is(err, io.EOF) {
			return msgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("parse output: %w", err)
		}
		m := Message{Topic: pm.Topic, Partition: pm.Partition, Offset: pm.Offset}
		var err error
		if m.Key, err = decode64(pm.Key); err != nil {
			return nil, fmt.Errorf("parse output: key: %w", err)
		}
		if m.Value, err = decode64(pm.Value); err != nil {
			return nil, fmt.Errorf("parse output: value: %w", err)
		}
		if pm.Timestamp > 0 {
			m.Timestamp = time.UnixMilli(pm.Timestamp)
		}
		for _, h := range pm.Headers {
			if h[0] == nil {
				return nil, fmt.Errorf("parse output: null header name at %s/%d@%d", pm.Topic, pm.Partition, pm.Offset)
			}
			v, err := decode64(h[1])
			if err != nil {
				return nil, fmt.Errorf("parse output: header %q: %w", *h[0], err)
			}
			m.Headers = append(m.Headers, Header{Key: *h[0], Value: v})
		}
		msgs = append(msgs, m)
	}
}

func encode64(s *string) *string {
	if s == nil {
		return nil
	}
	e := base64.StdEncoding.EncodeToString([]byte(*s))
	return &e
}

func decode64(s *string) (*string, error) {
	if s == nil {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		return nil, err
	}
	d := string(b)
	return &d, nil
}

// Transactions describes the data ProduceTransactions writes: Records
// records, record i to partition i % Partitions, with key "k-<i>" and a
// value that starts "txn=<t> end=<commit|abort> rec=<i> " (t is its
// transaction) padded to ValueBytes, in transactions of PerTxn records.
// Each transaction is flushed, so its records are in the log, before it
// ends; every AbortEvery-th one (the AbortEvery-th, the 2*AbortEvery-th,
// ...) is aborted, none when AbortEvery is 0.
type Transactions struct {
	Topic           string
	Partitions      int32
	Records         int
	PerTxn          int
	AbortEvery      int
	ValueBytes      int
	TransactionalID string
	// Timeout bounds each step of the Python client (25s when 0).
	Timeout time.Duration
}

// TxnCounts counts the records of committed and aborted transactions.
type TxnCounts struct {
	Committed int `json:"committed"`
	Aborted   int `json:"aborted"`
}

// TxnProduced is what ProduceTransactions wrote.
type TxnProduced struct {
	Transactions int `json:"transactions"`
	TxnCounts
	Partitions map[int32]TxnCounts `json:"partitions"`
}

// ProduceTransactions writes o's records with a librdkafka transactional
// producer, flushing every transaction before it commits or aborts it.
func (p *Python) ProduceTransactions(ctx context.Context, o Transactions) (TxnProduced, error) {
	out, err := p.run(ctx, nil, append(timeoutArgs(o.Timeout), "produce-txn", "--topic", o.Topic,
		"--partitions", strconv.Itoa(int(o.Partitions)), "--records", strconv.Itoa(o.Records),
		"--per-txn", strconv.Itoa(o.PerTxn), "--abort-every", strconv.Itoa(o.AbortEvery),
		"--value-bytes", strconv.Itoa(o.ValueBytes), "--transactional-id", o.TransactionalID)...)
	if err != nil {
		return TxnProduced{}, fmt.Errorf("python produce-txn: %w", err)
	}
	var res TxnProduced
	if err := json.Unmarshal(out, &res); err != nil {
		return TxnProduced{}, fmt.Errorf("python produce-txn: parse %q: %w", out, err)
	}
	return res, nil
}

// Count is what a consumer read from one partition.
type Count struct {
	Records  int `json:"records"`
	Distinct int `json:"distinct"`
	// FromAborted counts records whose value says they were written in a
	// transaction that was aborted (see Transactions): a read_committed
	// consumer must read none.
	FromAborted int `json:"from_aborted"`
}

// CountCommitted reads every partition of topic from its start to its high
// watermark with a read_committed librdkafka consumer and counts, per
// partition, what it read.
func (p *Python) CountCommitted(ctx context.Context, topic string, timeout time.Duration) (map[int32]Count, error) {
	out, err := p.run(ctx, nil, append(timeoutArgs(timeout), "count", "--topic", topic, "--isolation", "read_committed")...)
	if err != nil {
		return nil, fmt.Errorf("python count: %w", err)
	}
	var res struct {
		Partitions map[int32]Count `json:"partitions"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("python count: parse %q: %w", out, err)
	}
	return res.Partitions, nil
}

// timeoutArgs sets the script's per-step timeout when d is not 0.
func timeoutArgs(d time.Duration) []string {
	if d <= 0 {
		return nil
	}
	return []string{"--timeout", strconv.FormatFloat(d.Seconds(), 'f', -1, 64)}
}
