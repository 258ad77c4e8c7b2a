package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// produce creates topic on the source (scenarioParts partitions, cfg) if
// from is 0 and writes records r-<from>..r-<from+n-1>; key(i) gives the key
// (nil: the value). Record i goes to partition i mod scenarioParts.
func (b *bench) produce(ctx context.Context, topic string, cfg map[string]string, from, n int, key func(int) string) error {
	if from == 0 {
		if err := createTopic(ctx, b.src, topic, cfg); err != nil {
			return err
		}
	}
	cl, err := kgo.NewClient(workload.ProducerOpts(b.src)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var (
		mu    sync.Mutex
		first error
	)
	for i := from; i < from+n; i++ {
		v := fmt.Sprintf("r-%d", i)
		k := v
		if key != nil {
			k = key(i)
		}
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % scenarioParts), Key: []byte(k), Value: []byte(v)}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = cmpOr(first, err)
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return first
}

// createTopic creates topic with scenarioParts partitions, infinite
// retention and cfg, and waits for its leaders.
func createTopic(ctx context.Context, bootstrap []string, topic string, cfg map[string]string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	configs := map[string]*string{"retention.ms": new("-1")}
	for k, v := range cfg {
		configs[k] = &v
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, scenarioParts, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %q: %w", topic, err)
	}
	return workload.CreateTopic(ctx, bootstrap, topic, scenarioParts) // waits for leaders
}

// seedTransactional writes 3,000 records in transactions of 10, aborting
// every third: the source holds 2,000 readable records among aborted
// ones and markers.
func seedTransactional(ctx context.Context, b *bench, topic string) error {
	if err := createTopic(ctx, b.src, topic, nil); err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(workload.ProducerOpts(b.src), kgo.TransactionalID("peerbench-"+topic))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for t := range 300 {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		for i := t * 10; i < t*10+10; i++ {
			v := []byte(fmt.Sprintf("r-%d", i))
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i % scenarioParts), Key: v, Value: v}).FirstErr(); err != nil {
				return err
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(t%3 != 2)); err != nil {
			return err
		}
	}
	return nil
}

// seedCompacted writes 2,000 records over 100 keys to a compacted topic
// whose segments roll every 100 ms, in 10 rounds, and waits until the
// cleaner has removed overwritten records (the source then reads fewer).
func seedCompacted(ctx context.Context, b *bench, topic string) error {
	cfg := map[string]string{
		"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01",
		"min.compaction.lag.ms": "0", "delete.retention.ms": "100",
	}
	key := func(i int) string { return fmt.Sprintf("k-%d", i%100) }
	const rounds, per = 10, 200
	for r := range rounds {
		if err := b.produce(ctx, topic, cfg, r*per, per, key); err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond) // the next round starts a new segment
	}
	start, extra := time.Now(), rounds*per
	for {
		n := 0
		if err := scan(ctx, b.src, topic, func(*kgo.Record) error { n++; return nil }); err != nil {
			return err
		}
		if n < rounds*per {
			logf("compacted topic %s: the cleaner left %d of %d records after %.0fs", topic, n, rounds*per, time.Since(start).Seconds())
			return nil
		}
		// The cleaner only cleans closed segments: a record rolls the last one.
		if err := b.produce(ctx, topic, cfg, extra, 1, key); err != nil {
			return err
		}
		extra++
		select {
		case <-ctx.Done():
			return errors.New("the log cleaner did not run on the compacted topic")
		case <-time.After(2 * time.Second):
		}
	}
}

// expire deletes the first 900 of the 1,000 records of every partition on
// the source, above where the group committed (it read 500 records in all),
// as retention would.
func expire(ctx context.Context, b *bench, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.src...))
	if err != nil {
		return err
	}
	defer cl.Close()
	os := kadm.Offsets{}
	for p := range int32(scenarioParts) {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: 900})
	}
	resp, err := kadm.NewClient(cl).DeleteRecords(ctx, os)
	if err != nil {
		return err
	}
	return resp.Error()
}
