package demo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producerApp stands for an application producing to the migrated topics:
// keyed records with a sequence number in the value, so that the consumer
// side can prove it received each one exactly once.
type producerApp struct {
	cl     *kgo.Client
	topics []string
	rate   time.Duration // one record per topic every rate
	seq    *atomic.Int64 // shared across the app's incarnations
	stop   context.CancelFunc
	done   chan error
	where  string
	once   sync.Once
	err    error
}

// startProducer starts producing to bootstrap until stop.
func startProducer(bootstrap []string, where string, topics []string, rate time.Duration, seq *atomic.Int64, produced *ledger) (*producerApp, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.ProducerLinger(0))
	if err != nil {
		return nil, fmt.Errorf("producer app: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &producerApp{cl: cl, topics: topics, rate: rate, seq: seq, stop: cancel, done: make(chan error, 1), where: where}
	go func() {
		t := time.NewTicker(rate)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				p.done <- nil
				return
			case <-t.C:
			}
			var rs []*kgo.Record
			for _, topic := range topics {
				n := seq.Add(1)
				rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "customer-%d", n%97), Value: fmt.Appendf(nil, "%s-%d@%s", topic, n, where)})
			}
			// The batch completes even when a stop was requested: a record
			// whose produce was cut short may still have been written,
			// and the ledger must count every record a consumer can read.
			results := cl.ProduceSync(context.WithoutCancel(ctx), rs...)
			for _, r := range results {
				if r.Err == nil {
					produced.add(r.Record.Topic, string(r.Record.Value))
				}
			}
			if err := results.FirstErr(); err != nil {
				p.done <- fmt.Errorf("producer app on the %s: %w", where, err)
				return
			}
		}
	}()
	return p, nil
}

// halt stops the producer after its current batch and closes it; later
// calls return the first's result.
func (p *producerApp) halt() error {
	p.once.Do(func() {
		p.stop()
		p.err = <-p.done
		p.cl.Close()
	})
	return p.err
}

// consumerApp stands for an application consuming the topics in a consumer
// group: it processes what it polls, then commits, so that a clean stop
// leaves its committed offsets exactly after what it processed.
type consumerApp struct {
	cl   *kgo.Client
	stop context.CancelFunc
	done chan error
	once sync.Once
	err  error
}

// startConsumer joins group on bootstrap and consumes topics until halt.
// A new group (no committed offsets) starts at the beginning.
func startConsumer(bootstrap []string, group string, topics []string, consumed *ledger) (*consumerApp, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("consumer app: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &consumerApp{cl: cl, stop: cancel, done: make(chan error, 1)}
	go func() {
		for {
			fs := cl.PollFetches(ctx)
			// Records a poll returned are handled even when it returned
			// because of the stop: the client counts them as consumed,
			// and the final commit covers them.
			fs.EachRecord(func(r *kgo.Record) { consumed.add(r.Topic, string(r.Value)) })
			if ctx.Err() != nil {
				c.done <- nil
				return
			}
			var ferr error
			fs.EachError(func(t string, p int32, err error) {
				if !errors.Is(err, context.Canceled) {
					ferr = errors.Join(ferr, fmt.Errorf("%s/%d: %w", t, p, err))
				}
			})
			if ferr != nil {
				c.done <- fmt.Errorf("consumer app: %w", ferr)
				return
			}
			// Commit what was processed, even when asked to stop: a clean
			// shutdown of an at-least-once consumer.
			if err := cl.CommitUncommittedOffsets(context.WithoutCancel(ctx)); err != nil {
				c.done <- fmt.Errorf("consumer app: commit: %w", err)
				return
			}
		}
	}()
	return c, nil
}

// halt stops the consumer after its current batch (committed) and leaves
// the group.
func (c *consumerApp) halt() error {
	c.once.Do(func() {
		c.stop()
		c.err = <-c.done
		// Commit anything processed but not committed when the poll was
		// cut short, then leave the group.
		if cerr := c.cl.CommitUncommittedOffsets(context.Background()); cerr != nil && c.err == nil {
			c.err = fmt.Errorf("consumer app: final commit: %w", cerr)
		}
		c.cl.Close()
	})
	return c.err
}

// ledger counts records by topic and value, concurrently.
type ledger struct {
	mu sync.Mutex
	n  map[string]map[string]int
}

func newLedger() *ledger { return &ledger{n: map[string]map[string]int{}} }

func (l *ledger) add(topic, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[topic] == nil {
		l.n[topic] = map[string]int{}
	}
	l.n[topic][value]++
}

func (l *ledger) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, vs := range l.n {
		for _, c := range vs {
			n += c
		}
	}
	return n
}

// compare returns, against what was produced, the records consumed more
// than once and those never consumed.
func compare(produced, consumed *ledger) (dups, missing []string) {
	produced.mu.Lock()
	defer produced.mu.Unlock()
	consumed.mu.Lock()
	defer consumed.mu.Unlock()
	for t, vs := range produced.n {
		for v := range vs {
			switch c := consumed.n[t][v]; {
			case c == 0:
				missing = append(missing, t+" "+v)
			case c > 1:
				dups = append(dups, fmt.Sprintf("%s %s (%d times)", t, v, c))
			}
		}
	}
	for t, vs := range consumed.n {
		for v, c := range vs {
			if produced.n[t][v] == 0 {
				dups = append(dups, fmt.Sprintf("%s %s (%d times, never produced)", t, v, c))
			}
		}
	}
	return dups, missing
}
