package main_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// The live applications of TestLifecycle: a franz-go producer, a franz-go
// consumer group and a confluent-kafka-python group, and the ledgers of
// what they produced and consumed.

// lcRecord is a record as the applications identify it.
type lcRecord struct{ topic, value string }

// lcLedger counts records by topic and value, and by cluster.
type lcLedger struct {
	mu    sync.Mutex
	n     map[lcRecord]int
	where map[string]int
	seen  map[string]map[string]bool // cluster -> topics
	grew  chan struct{}              // closed by the next add (more)
}

func newLCLedger() *lcLedger {
	return &lcLedger{n: map[lcRecord]int{}, where: map[string]int{}, seen: map[string]map[string]bool{}}
}

func (l *lcLedger) add(topic, value, where string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[lcRecord{topic, value}]++
	l.where[where]++
	if l.seen[where] == nil {
		l.seen[where] = map[string]bool{}
	}
	l.seen[where][topic] = true
	if l.grew != nil {
		close(l.grew)
		l.grew = nil
	}
}

// more returns a channel closed once a record is added after the call.
func (l *lcLedger) more() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.grew == nil {
		l.grew = make(chan struct{})
	}
	return l.grew
}

func (l *lcLedger) addMessages(msgs []kafkatest.Message, where string) {
	for _, m := range msgs {
		v := "<null>"
		if m.Value != nil {
			v = *m.Value
		}
		l.add(m.Topic, v, where)
	}
}

func (l *lcLedger) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.where {
		n += c
	}
	return n
}

func (l *lcLedger) count(where string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.where[where]
}

// topics is how many topics have records from the cluster.
func (l *lcLedger) topics(where string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen[where])
}

// diff compares what was consumed with l, what was produced: records
// never consumed, consumed more than once, consumed but never produced.
func (l *lcLedger) diff(consumed *lcLedger) (missing, dups, unknown []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	consumed.mu.Lock()
	defer consumed.mu.Unlock()
	for _, r := range slices.SortedFunc(maps.Keys(l.n), compareLCRecord) {
		switch c := consumed.n[r]; {
		case c == 0:
			missing = append(missing, r.topic+" "+r.value)
		case c > l.n[r]:
			dups = append(dups, fmt.Sprintf("%s %s (%d times)", r.topic, r.value, c))
		}
	}
	for _, r := range slices.SortedFunc(maps.Keys(consumed.n), compareLCRecord) {
		if l.n[r] == 0 {
			unknown = append(unknown, fmt.Sprintf("%s %s (%d times)", r.topic, r.value, consumed.n[r]))
		}
	}
	return missing, dups, unknown
}

func compareLCRecord(a, b lcRecord) int {
	return strings.Compare(a.topic+"\x00"+a.value, b.topic+"\x00"+b.value)
}

// lcProducer is the producing application: every few milliseconds one
// record to each topic, keyed and valued by a sequence number shared by
// its incarnations (unique keys: compaction keeps every record).
type lcProducer struct {
	stop   chan struct{}
	done   chan error
	halted bool
	where  string
	mu     sync.Mutex
	last   map[string]time.Time // topic -> timestamp of the newest record written
}

func startLCProducer(t *testing.T, c *kafkatest.Cluster, seq *atomic.Int64, produced *lcLedger) *lcProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	p := &lcProducer{stop: make(chan struct{}), done: make(chan error, 1), where: c.Config.Role, last: map[string]time.Time{}}
	go func() {
		defer cl.Close()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				p.done <- nil
				return
			case <-tick.C:
			}
			var rs []*kgo.Record
			for _, topic := range lcTopics {
				n := seq.Add(1)
				rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k-%d", n), Value: fmt.Appendf(nil, "%s-%d", topic, n)})
			}
			// Never cancelled: a record is in the ledger if and only if
			// it was written.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := cl.ProduceSync(ctx, rs...).FirstErr()
			cancel()
			if err != nil {
				p.done <- fmt.Errorf("producer on the %s: %w", p.where, err)
				return
			}
			p.mu.Lock()
			for _, r := range rs {
				produced.add(r.Topic, string(r.Value), p.where)
				p.last[r.Topic] = r.Timestamp
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if !p.halted {
			close(p.stop)
			<-p.done
		}
	})
	return p
}

// halt stops the producer after its current write.
func (p *lcProducer) halt(t *testing.T) {
	t.Helper()
	if p.halted {
		return
	}
	p.halted = true
	close(p.stop)
	if err := <-p.done; err != nil {
		t.Fatal(err)
	}
}

func (p *lcProducer) lastWrite(topic string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last[topic]
}

// lcConsumer is the franz-go consuming application: a group member that
// processes each poll, then commits it, so that a clean stop leaves the
// committed offsets exactly after what it processed.
type lcConsumer struct {
	cancel context.CancelFunc
	done   chan error
	halted bool
}

func startLCConsumer(t *testing.T, c *kafkatest.Cluster, consumed *lcLedger) *lcConsumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs...), kgo.ConsumerGroup(lcFG), kgo.ConsumeTopics(lcTopics...),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	where := c.Config.Role
	ctx, cancel := context.WithCancel(context.Background())
	fc := &lcConsumer{cancel: cancel, done: make(chan error, 1)}
	go func() {
		var ferr error
		for {
			fs := cl.PollFetches(ctx)
			// Records returned are processed even when the poll ended
			// because of the stop: they count as polled for the commit.
			fs.EachRecord(func(r *kgo.Record) { consumed.add(r.Topic, string(r.Value), where) })
			fs.EachError(func(topic string, p int32, err error) {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
					ferr = errors.Join(ferr, fmt.Errorf("fg on the %s: %s/%d: %w", where, topic, p, err))
				}
			})
			if err := cl.CommitUncommittedOffsets(context.WithoutCancel(ctx)); err != nil {
				ferr = errors.Join(ferr, fmt.Errorf("fg on the %s: commit: %w", where, err))
			}
			if ctx.Err() != nil || ferr != nil {
				cl.Close() // leaves the group
				fc.done <- ferr
				return
			}
		}
	}()
	t.Cleanup(func() {
		if !fc.halted {
			cancel()
			<-fc.done
		}
	})
	return fc
}

// halt stops the consumer after its last poll is processed and committed,
// and leaves the group.
func (c *lcConsumer) halt(t *testing.T) {
	t.Helper()
	if c.halted {
		return
	}
	c.halted = true
	c.cancel()
	if err := <-c.done; err != nil {
		t.Fatal(err)
	}
}

// lcPython runs the Python group's application again and again, lcPyBatch
// messages at a time; between runs the group has no member. A run that
// reached the end of every partition is followed by the next one once the
// producer wrote more (produced grew), not after a pause.
type lcPython struct {
	stop   chan struct{}
	done   chan error
	halted bool
}

func startLCPython(t *testing.T, py *kafkatest.Python, where string, produced, consumed *lcLedger) *lcPython {
	t.Helper()
	p := &lcPython{stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		for {
			select {
			case <-p.stop:
				p.done <- nil
				return
			default:
			}
			more := produced.more() // before the run: what it may miss
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			msgs, err := py.ConsumeGroup(ctx, lcPy, lcTopics, lcPyBatch)
			cancel()
			if err != nil {
				p.done <- fmt.Errorf("py on the %s: %w", where, err)
				return
			}
			consumed.addMessages(msgs, where)
			if len(msgs) < lcPyBatch { // at the end of every partition
				select {
				case <-p.stop:
					p.done <- nil
					return
				case <-more:
				}
			}
		}
	}()
	t.Cleanup(func() {
		if !p.halted {
			close(p.stop)
			<-p.done
		}
	})
	return p
}

// halt stops the loop after the current run, which commits.
func (p *lcPython) halt(t *testing.T) {
	t.Helper()
	if p.halted {
		return
	}
	p.halted = true
	close(p.stop)
	if err := <-p.done; err != nil {
		t.Fatal(err)
	}
}

func pyConsume(t *testing.T, py *kafkatest.Python, max int) []kafkatest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	msgs, err := py.ConsumeGroup(ctx, lcPy, lcTopics, max)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}
