package workload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProducerOpts are the options of the produce-only baseline and the
// seeder: franz-go's defaults (idempotent, acks=all, 10ms linger), without
// compression as kmigrate's default, and each record to its own partition.
func ProducerOpts(bootstrap []string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(bootstrap...),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}
}

// Produce writes every record of the spec to topic and waits until all are
// acknowledged. It returns the first produce error.
func Produce(ctx context.Context, cl *kgo.Client, topic string, s *Spec) error {
	var (
		mu       sync.Mutex
		firstErr error
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	}
	for i := range s.Records {
		if ctx.Err() != nil {
			break
		}
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: s.Partition(i), Key: s.Key(i), Value: s.Value(i)}, done)
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return fmt.Errorf("produce to %q: %w", topic, firstErr)
	}
	return ctx.Err()
}

// Consume reads topic from the start offsets to the end offsets that the
// partitions have when it starts, at read_committed, and returns the sum of
// each partition. With digest false it only counts records and bytes, so
// that the consume-only baseline does no work a bare consumer would not.
func Consume(ctx context.Context, bootstrap []string, topic string, digest bool) ([]Sum, error) {
	return consume(ctx, bootstrap, topic, digest, nil)
}

// Copy is the bare consume-then-produce copy: it reads topic on src like
// Consume and produces every record (key, value, partition) to dst on
// tgt with the produce-only baseline's producer, pipelined, without
// transactions or headers. It is the ceiling a copy reaches on the
// machine, for comparison with kmigrate mirror.
func Copy(ctx context.Context, src, tgt []string, topic, dst string) ([]Sum, error) {
	cl, err := kgo.NewClient(ProducerOpts(tgt)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var (
		mu   sync.Mutex
		perr error
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			perr = errors.Join(perr, err)
			mu.Unlock()
		}
	}
	sums, err := consume(ctx, src, topic, false, func(r *kgo.Record) {
		cl.Produce(ctx, &kgo.Record{Topic: dst, Partition: r.Partition, Key: r.Key, Value: r.Value}, done)
	})
	if err != nil {
		return nil, err
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	return sums, perr
}

func consume(ctx context.Context, bootstrap []string, topic string, digest bool, visit func(*kgo.Record)) ([]Sum, error) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	ac := kadm.NewClient(adm)
	starts, err := ac.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %q: %w", topic, err)
	}
	// The last stable offsets: what read_committed can reach.
	ends, err := ac.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %q: %w", topic, err)
	}
	n := len(ends[topic])
	if n == 0 {
		return nil, fmt.Errorf("topic %q: no partitions", topic)
	}
	sums := make([]Sum, n)
	from := map[int32]kgo.Offset{}
	last := make([]int64, n) // the last offset to read, inclusive
	for p, e := range ends[topic] {
		if int(p) >= n {
			return nil, fmt.Errorf("topic %q: partition %d of %d", topic, p, n)
		}
		s, _ := starts.Lookup(topic, p)
		last[p] = e.Offset - 1
		if e.Offset > s.Offset {
			from[p] = kgo.NewOffset().At(s.Offset)
		}
	}
	if len(from) == 0 {
		return sums, nil
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) take offsets; seeing
		// them is how a reader knows it reached an end offset that is
		// one past a commit marker.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	pending := len(from)
	for pending > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			p := fp.Partition
			for _, r := range fp.Records {
				if r.Offset > last[p] {
					break
				}
				if !r.Attrs.IsControl() {
					if visit != nil {
						visit(r)
					}
					if digest {
						sums[p].Add(r.Key, r.Value)
					} else {
						sums[p].Records++
						sums[p].Bytes += int64(len(r.Key) + len(r.Value))
					}
				}
				if r.Offset == last[p] {
					pending--
				}
			}
		})
	}
	return sums, nil
}

// CreateTopic creates topic with the given partitions and infinite
// retention, and waits until every partition has a leader.
func CreateTopic(ctx context.Context, bootstrap []string, topic string, partitions int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ac := kadm.NewClient(cl)
	retention := "-1"
	resp, err := ac.CreateTopic(ctx, int32(partitions), -1, map[string]*string{"retention.ms": &retention}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %q: %w", topic, err)
	}
	for {
		md, err := ac.Metadata(ctx, topic)
		if err == nil {
			t := md.Topics[topic]
			ready := t.Err == nil && len(t.Partitions) == partitions
			for _, p := range t.Partitions {
				ready = ready && p.Err == nil && p.Leader >= 0
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %q not ready: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DeleteTopics deletes topics, to free the cluster's memory and disk.
func DeleteTopics(ctx context.Context, bootstrap []string, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	if err := resps.Error(); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("delete topics: %w", err)
	}
	return nil
}
