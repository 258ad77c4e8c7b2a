package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
)

// pyConsumer is a confluent-kafka-python (librdkafka) group member: it
// subscribes to a topic, prints every record it receives as
// "R <partition> <offset> <value>", and either stops after max records or,
// with max 0, once every partition reported its end and nothing came for
// idle seconds. It commits synchronously what it consumed (the position
// after its last record of each partition) and leaves the group, as an
// application stopping cleanly does. Offsets are not auto-committed, so
// what it committed is exactly what it printed.
const pyConsumer = `
import sys, time
from confluent_kafka import Consumer, KafkaError, KafkaException
bootstrap, group, topic, parts, maxn, idle, deadline = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
              "auto.offset.reset": "earliest", "isolation.level": "read_committed",
              "enable.partition.eof": True, "session.timeout.ms": 10000})
c.subscribe([topic])
out = sys.stdout
n, eof, start, last = 0, set(), time.time(), time.time()
while True:
    if time.time() - start > deadline:
        sys.stderr.write("timeout after %d records; partitions at their end: %s\n" % (n, sorted(eof)))
        sys.exit(3)
    m = c.poll(0.2)
    if m is None:
        if maxn == 0 and len(eof) == parts and time.time() - last > idle:
            break
        continue
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            eof.add(m.partition())
            continue
        raise KafkaException(m.error())
    eof.discard(m.partition())
    out.write("R %d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
    n += 1
    last = time.time()
    if maxn and n >= maxn:
        break
try:
    c.commit(asynchronous=False)
except KafkaException as e:
    if e.args[0].code() != KafkaError._NO_OFFSET:
        raise
c.close()
out.flush()
`

// read is one record a consumer printed.
type read struct {
	Partition int32
	Offset    int64
	Value     string
}

// python returns the interpreter with confluent-kafka: the lane's venv.
func python() (string, error) {
	if p := os.Getenv("KMIGRATE_TEST_PYTHON"); p != "" {
		return p, nil
	}
	venv := os.Getenv("KMIGRATE_VENV")
	if venv == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		venv = filepath.Join(c, "kmigrate", "venv")
	}
	p := filepath.Join(venv, "bin", "python3")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no Python with confluent-kafka (%w): run kafka/fetch (make bench-peers does) or set KMIGRATE_TEST_PYTHON", err)
	}
	return p, nil
}

// consume runs the confluent-kafka consumer in group on topic (see
// pyConsumer) and returns what it printed.
func (b *bench) consume(ctx context.Context, bootstrap []string, group, topic string, parts, max int) ([]read, error) {
	py, err := python()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(b.dir, "consumer.py")
	if err := os.WriteFile(script, []byte(pyConsumer), 0o644); err != nil {
		return nil, err
	}
	deadline := time.Until(deadlineOf(ctx, 10*time.Minute)).Seconds()
	cmd := proc.Command(ctx, grace, py, script, strings.Join(bootstrap, ","), group, topic,
		strconv.Itoa(parts), strconv.Itoa(max), "3", fmt.Sprintf("%.0f", deadline))
	var out bytes.Buffer
	stderr := proc.NewTail(8 << 10)
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("confluent-kafka consumer, group %s: %w", group, proc.ExitError(err, stderr))
	}
	return parseReads(out.Bytes())
}

func deadlineOf(ctx context.Context, def time.Duration) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(def)
}

// parseReads parses the consumer's "R <partition> <offset> <value>" lines
// and checks that each partition's offsets only increase.
func parseReads(out []byte) ([]read, error) {
	var reads []read
	lastOff := map[int32]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "R ")
		if !ok {
			continue // a library's message on stdout
		}
		f := strings.SplitN(rest, " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("consumer line %q: want R <partition> <offset> <value>", line)
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("consumer line %q: want R <partition> <offset> <value>", line)
		}
		if last, seen := lastOff[int32(p)]; seen && o <= last {
			return nil, fmt.Errorf("consumer read partition %d offset %d after offset %d", p, o, last)
		}
		lastOff[int32(p)] = o
		reads = append(reads, read{Partition: int32(p), Offset: o, Value: f[2]})
	}
	return reads, sc.Err()
}

// Tally is how a group's reads on both clusters compare with the records
// the source holds.
type Tally struct {
	// Redelivered counts target reads of records already read on the
	// source, and repeated reads on the target.
	Redelivered int64 `json:"redelivered"`
	// Skipped counts source records read on neither cluster.
	Skipped int64 `json:"skipped"`
	// Extra counts target reads of records the source does not hold
	// (aborted transactions' records, say).
	Extra int64 `json:"extra"`
	// FirstSkipped and FirstRedelivered name an example of each.
	FirstSkipped     string `json:"first_skipped,omitempty"`
	FirstRedelivered string `json:"first_redelivered,omitempty"`
}

// tally compares the values the group read on the source and on the
// target with the values the source holds (read_committed).
func tally(holds []string, onSource, onTarget []read) Tally {
	var t Tally
	held := make(map[string]bool, len(holds))
	for _, v := range holds {
		held[v] = true
	}
	seen := make(map[string]bool, len(onSource)+len(onTarget))
	for _, r := range onSource {
		seen[r.Value] = true
	}
	for _, r := range onTarget {
		switch {
		case seen[r.Value]:
			t.Redelivered++
			if t.FirstRedelivered == "" {
				t.FirstRedelivered = fmt.Sprintf("%s (target partition %d offset %d)", r.Value, r.Partition, r.Offset)
			}
		case !held[r.Value]:
			t.Extra++
		}
		seen[r.Value] = true
	}
	for _, v := range holds {
		if !seen[v] {
			t.Skipped++
			if t.FirstSkipped == "" {
				t.FirstSkipped = v
			}
		}
	}
	return t
}

// runBackground starts a command that runs until stop is called (SIGINT,
// then a kill after grace) and returns stop, which returns the exit error
// with the command's output tail.
func runBackground(ctx context.Context, argv []string) (func() error, error) {
	cctx, cancel := context.WithCancel(ctx)
	cmd := proc.Command(cctx, grace, argv[0], argv[1:]...)
	tail := proc.NewTail(16 << 10)
	cmd.Stdout, cmd.Stderr = tail, tail
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return func() error {
		select {
		case err := <-done:
			cancel()
			return proc.ExitError(fmt.Errorf("%s exited early: %v", filepath.Base(argv[0]), err), tail)
		default:
		}
		cancel()
		err := <-done
		if err == nil {
			return nil
		}
		// It exited by itself after our SIGINT (a JVM exits 130 or 143,
		// kmigrate's continuous mirror 1 with "context canceled"): what
		// it copied is checked afterwards. Killed after the grace
		// period (-1) is a failure.
		if c := cmd.ProcessState.ExitCode(); c >= 0 {
			logf("%s exited %d on SIGINT", filepath.Base(argv[0]), c)
			return nil
		}
		return proc.ExitError(err, tail)
	}, nil
}
