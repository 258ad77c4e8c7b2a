package kafkatest

import (
	"bytes"
	"context"
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

// Kcat drives the kcat command-line client (librdkafka) against a cluster.
//
// kcat is line-based, which limits what it can carry: keys, values and
// header values must be text without newlines; a message cannot have a null
// key with an empty value, or an empty key with a null value (kcat's -Z
// flag turns every empty field into null); header names cannot contain '='.
// Produce returns an error for such messages instead of producing something
// else. Timestamps are set by kcat, not taken from the messages.
//
// librdkafka's SASL handshake fails against kfake, so use kcat with kfake
// only over PLAINTEXT or TLS.
type Kcat struct {
	path      string
	bootstrap string
	conf      string // librdkafka properties file with the security settings
}

// NewKcat returns a kcat driver for c, skipping the test when kcat is
// missing (see RequireClient). The connection settings go into a properties
// file in the test's temporary directory, so that passwords never appear in
// process arguments or error messages.
func NewKcat(t testing.TB, c *Cluster) *Kcat {
	t.Helper()
	path := RequireClient(t, ClientKcat)
	dir := t.TempDir()
	props, err := librdkafkaProps(&c.Config, dir)
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	var b strings.Builder
	for _, kv := range props {
		if strings.ContainsAny(kv[1], "\r\n") {
			t.Fatalf("kcat: %s cannot span lines in a properties file", kv[0])
		}
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	conf := filepath.Join(dir, "kcat.properties")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("kcat: %v", err)
	}
	return &Kcat{path: path, bootstrap: strings.Join(c.Config.Bootstrap, ","), conf: conf}
}

func (k *Kcat) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	return run(ctx, stdin, k.path, append([]string{"-F", k.conf, "-b", k.bootstrap, "-q"}, args...)...)
}

// Metadata lists brokers and topics with `kcat -L -J`.
func (k *Kcat) Metadata(ctx context.Context) (Metadata, error) {
	out, err := k.run(ctx, nil, "-L", "-J")
	if err != nil {
		return Metadata{}, fmt.Errorf("kcat metadata: %w", err)
	}
	var raw struct {
		Brokers []struct {
			ID   int32  `json:"id"`
			Name string `json:"name"`
		} `json:"brokers"`
		Topics []struct {
			Topic      string `json:"topic"`
			Error      string `json:"error"`
			Partitions []struct {
				Partition int32 `json:"partition"`
				Leader    int32 `json:"leader"`
				Replicas  []struct {
					ID int32 `json:"id"`
				} `json:"replicas"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return Metadata{}, fmt.Errorf("kcat metadata: parse %q: %w", out, err)
	}
	var m Metadata
	for _, b := range raw.Brokers {
		m.Brokers = append(m.Brokers, Broker{ID: b.ID, Addr: b.Name})
	}
	for _, rt := range raw.Topics {
		tm := TopicMetadata{Name: rt.Topic, Err: rt.Error}
		for _, rp := range rt.Partitions {
			pm := PartitionMetadata{ID: rp.Partition, Leader: rp.Leader}
			for _, r := range rp.Replicas {
				pm.Replicas = append(pm.Replicas, r.ID)
			}
			tm.Partitions = append(tm.Partitions, pm)
		}
		m.Topics = append(m.Topics, tm)
	}
	m.sort()
	return m, nil
}

// ErrKcatCannotCarry is wrapped by Kcat.Produce's error for messages kcat
// cannot express (see Kcat).
var ErrKcatCannotCarry = errors.New("kcat cannot produce this message")

// kcatDelimiters are tried in order as the key delimiter; the first that
// occurs in no key or value is used.
var kcatDelimiters = []string{"\t", "\x1f", "\x1e", "|~|"}

// Produce writes msgs to one partition of topic with `kcat -P`, in order.
// The messages' Topic, Partition, Offset and Timestamp are ignored. kcat's
// -H headers apply to every message of a run, so consecutive messages with
// equal headers share a run and each change of headers starts another.
func (k *Kcat) Produce(ctx context.Context, topic string, partition int32, msgs []Message) error {
	delim, err := kcatDelimiter(msgs)
	if err != nil {
		return fmt.Errorf("kcat produce to %s/%d: %w", topic, partition, err)
	}
	// Encode every run before producing any, so that a message kcat
	// cannot carry fails the call without a partial write.
	type kcatInput struct {
		args  []string
		stdin []byte
	}
	var runs []kcatInput
	for done := 0; done < len(msgs); {
		n, args, stdin, err := kcatRun(msgs[done:], delim, done)
		if err != nil {
			return fmt.Errorf("kcat produce to %s/%d: %w", topic, partition, err)
		}
		args = append([]string{"-P", "-t", topic, "-p", strconv.Itoa(int(partition)), "-K", delim}, args...)
		runs = append(runs, kcatInput{args, stdin})
		done += n
	}
	for _, r := range runs {
		if _, err := k.run(ctx, r.stdin, r.args...); err != nil {
			return fmt.Errorf("kcat produce to %s/%d: %w", topic, partition, err)
		}
	}
	return nil
}

func kcatDelimiter(msgs []Message) (string, error) {
	for _, d := range kcatDelimiters {
		ok := true
		for _, m := range msgs {
			if m.Key != nil && strings.Contains(*m.Key, d) || m.Value != nil && strings.Contains(*m.Value, d) {
				ok = false
				break
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: every candidate key delimiter %q occurs in the messages", ErrKcatCannotCarry, kcatDelimiters)
}

// kcatRun encodes the longest prefix of msgs that one kcat run can produce:
// messages with equal headers and the same null mode. It returns how many
// messages it took, the extra arguments and the input lines. first is the
// index of msgs[0] in the caller's list, for error messages.
func kcatRun(msgs []Message, delim string, first int) (int, []string, []byte, error) {
	var args []string
	for _, h := range msgs[0].Headers {
		if strings.Contains(h.Key, "=") {
			return 0, nil, nil, fmt.Errorf("%w: header name %q contains '='", ErrKcatCannotCarry, h.Key)
		}
		if h.Value == nil {
			args = append(args, "-H", h.Key) // kcat sends a null value
		} else {
			args = append(args, "-H", h.Key+"="+*h.Value)
		}
	}
	// With -Z kcat sends empty keys and values as null; without it an
	// empty line is skipped and a line without the delimiter has a null
	// key. A null value therefore needs -Z, and -Z rules out empty
	// strings.
	nullMode := msgs[0].Value == nil
	if nullMode {
		args = append(args, "-Z")
	}
	var stdin bytes.Buffer
	n := 0
	for j, m := range msgs {
		i := first + j
		if (m.Value == nil) != nullMode || !headersEqual(m.Headers, msgs[0].Headers) {
			break
		}
		for _, s := range []*string{m.Key, m.Value} {
			if s != nil && strings.Contains(*s, "\n") {
				return 0, nil, nil, fmt.Errorf("%w: message %d: a line break in its key or value (kcat reads one message per line)", ErrKcatCannotCarry, i)
			}
		}
		switch {
		case nullMode && m.Key != nil && *m.Key == "":
			return 0, nil, nil, fmt.Errorf("%w: message %d: empty key with a null value", ErrKcatCannotCarry, i)
		case nullMode:
			stdin.WriteString(deref(m.Key) + delim)
		case m.Key == nil && *m.Value == "":
			return 0, nil, nil, fmt.Errorf("%w: message %d: null key with an empty value", ErrKcatCannotCarry, i)
		case m.Key == nil:
			stdin.WriteString(*m.Value)
		default:
			stdin.WriteString(*m.Key + delim + *m.Value)
		}
		stdin.WriteByte('\n')
		n++
	}
	return n, args, stdin.Bytes(), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Consume reads topic from the beginning to the end with `kcat -C -e`, all
// partitions or only the given ones, and returns the messages ordered by
// partition, then offset.
func (k *Kcat) Consume(ctx context.Context, topic string, partitions ...int32) ([]Message, error) {
	if len(partitions) == 0 {
		return k.consume(ctx, "-C", "-J", "-e", "-o", "beginning", "-t", topic)
	}
	var all []Message
	for _, p := range partitions {
		msgs, err := k.consume(ctx, "-C", "-J", "-e", "-o", "beginning", "-t", topic, "-p", strconv.Itoa(int(p)))
		if err != nil {
			return nil, err
		}
		all = append(all, msgs...)
	}
	sortMessages(all)
	return all, nil
}

// ConsumeGroup consumes topics as a member of group with kcat's balanced
// consumer (-G), from the committed offsets or else the earliest, until it
// has max messages (when max > 0) or every assigned partition is at its end.
// kcat commits with librdkafka's automatic commit when it exits: the
// offsets after the messages it returned, except on transactional
// partitions, where librdkafka 2.0.2 can commit past records it fetched but
// never returned (seen committing 16, 21 or 37 after returning offset 8).
// The messages are ordered by topic, partition, then offset.
func (k *Kcat) ConsumeGroup(ctx context.Context, group string, topics []string, max int) ([]Message, error) {
	// Not -o beginning: in -G mode kcat would apply it to every assigned
	// partition, ignoring committed offsets.
	args := []string{"-G", group, "-J", "-e", "-X", "auto.offset.reset=earliest"}
	if max > 0 {
		args = append(args, "-c", strconv.Itoa(max))
	}
	return k.consume(ctx, append(args, topics...)...)
}

func (k *Kcat) consume(ctx context.Context, args ...string) ([]Message, error) {
	out, err := k.run(ctx, nil, args...)
	if err != nil {
		return nil, fmt.Errorf("kcat consume: %w", err)
	}
	msgs, err := parseKcatJSON(out)
	if err != nil {
		return nil, fmt.Errorf("kcat consume: %w", err)
	}
	sortMessages(msgs)
	return msgs, nil
}

// kcatMessage is one line of `kcat -C -J` output.
type kcatMessage struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	TsType    string `json:"tstype"`
	Ts        int64  `json:"ts"`
	// Headers alternate name and value; a null value is null.
	Headers []*string `json:"headers"`
	Key     *string   `json:"key"`
	Payload *string   `json:"payload"`
}

func parseKcatJSON(out []byte) ([]Message, error) {
	var msgs []Message
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var km kcatMessage
		if err := dec.Decode(&km); errors.Is(err, io.EOF) {
			return msgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("parse kcat output: %w", err)
		}
		if len(km.Headers)%2 != 0 {
			return nil, fmt.Errorf("parse kcat output: odd header list at %s/%d@%d", km.Topic, km.Partition, km.Offset)
		}
		m := Message{Topic: km.Topic, Partition: km.Partition, Offset: km.Offset, Key: km.Key, Value: km.Payload}
		if km.TsType != "notavailable" && km.TsType != "" {
			m.Timestamp = time.UnixMilli(km.Ts)
		}
		for i := 0; i < len(km.Headers); i += 2 {
			if km.Headers[i] == nil {
				return nil, fmt.Errorf("parse kcat output: null header name at %s/%d@%d", km.Topic, km.Partition, km.Offset)
			}
			m.Headers = append(m.Headers, Header{Key: *km.Headers[i], Value: km.Headers[i+1]})
		}
		msgs = append(msgs, m)
	}
}
