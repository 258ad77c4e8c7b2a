package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// counts is records per partition, by topic.
type counts map[string][]int64

func (c counts) total() int64 {
	var n int64
	for _, ps := range c {
		for _, v := range ps {
			n += v
		}
	}
	return n
}

// createTopics creates topics of n partitions each, with infinite
// retention, in one request, and waits until each has a leader everywhere.
func createTopics(ctx context.Context, bootstrap []string, topics []string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	retention := "-1"
	resps, err := adm.CreateTopics(ctx, int32(n), -1, map[string]*string{"retention.ms": &retention}, topics...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	for {
		md, err := adm.Metadata(ctx, topics...)
		ready := err == nil
		for _, t := range topics {
			td := md.Topics[t]
			ready = ready && td.Err == nil && len(td.Partitions) == n
			for _, p := range td.Partitions {
				ready = ready && p.Err == nil && p.Leader >= 0
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics not ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// seed writes records records of size bytes to every partition of topics,
// with the same plain idempotent producer as the other harnesses.
func seed(ctx context.Context, bootstrap []string, topics []string, partitions, records, size int) error {
	cl, err := kgo.NewClient(workload.ProducerOpts(bootstrap)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	value := make([]byte, size)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var (
		mu     sync.Mutex
		first  error
		failed int
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			failed++
			mu.Unlock()
		}
	}
	for i := range records {
		for _, t := range topics {
			for p := range partitions {
				key := fmt.Appendf(nil, "%s/%d/%d", t, p, i)
				cl.Produce(ctx, &kgo.Record{Topic: t, Partition: int32(p), Key: key, Value: value}, done)
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if first != nil {
		return fmt.Errorf("%d records failed, the first with: %w", failed, first)
	}
	return nil
}

// produceMarkers writes one record to every partition of topics: what the
// survivor of a kill must copy.
func produceMarkers(ctx context.Context, bootstrap []string, topics []string, partitions int) error {
	cl, err := kgo.NewClient(workload.ProducerOpts(bootstrap)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var rs []*kgo.Record
	for _, t := range topics {
		for p := range partitions {
			rs = append(rs, &kgo.Record{Topic: t, Partition: int32(p), Key: []byte("marker"), Value: []byte("after the kill")})
		}
	}
	return cl.ProduceSync(ctx, rs...).FirstErr()
}

// lastStable returns each partition's last stable offset (what
// read_committed reaches); a topic that does not exist yet is left out.
func lastStable(ctx context.Context, adm *kadm.Client, topics []string) (counts, error) {
	offs, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := counts{}
	for t, ps := range offs {
		for p, o := range ps {
			if o.Err != nil {
				continue
			}
			if int(p) >= len(out[t]) {
				out[t] = append(out[t], make([]int64, int(p)+1-len(out[t]))...)
			}
			out[t][p] = o.Offset
		}
	}
	return out, nil
}

// countRecords reads every partition of topics from the start to its last
// stable offset at read_committed and counts the records (transaction
// markers take offsets but are not records).
func countRecords(ctx context.Context, bootstrap []string, topics []string) (counts, error) {
	acl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return nil, err
	}
	defer acl.Close()
	ends, err := lastStable(ctx, kadm.NewClient(acl), topics)
	if err != nil {
		return nil, err
	}
	out := counts{}
	from := map[string]map[int32]kgo.Offset{}
	pending := 0
	for _, t := range topics {
		if len(ends[t]) == 0 {
			return nil, fmt.Errorf("topic %s: no partitions", t)
		}
		out[t] = make([]int64, len(ends[t]))
		for p, e := range ends[t] {
			if e > 0 {
				if from[t] == nil {
					from[t] = map[int32]kgo.Offset{}
				}
				from[t][int32(p)] = kgo.NewOffset().AtStart()
				pending++
			}
		}
	}
	if pending == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for pending > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("fetch %s/%d: %w", t, p, err)) })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			last := ends[r.Topic][r.Partition] - 1
			if r.Offset > last {
				return
			}
			if !r.Attrs.IsControl() {
				out[r.Topic][r.Partition]++
			}
			if r.Offset == last {
				pending--
			}
		})
	}
	return out, nil
}

// compareCounts describes the first difference of got from want, or "".
func compareCounts(want, got counts, rename func(string) string) string {
	var wn, gn int64
	first := ""
	for t, ps := range want {
		g := got[rename(t)]
		for p, w := range ps {
			wn += w
			var v int64
			if p < len(g) {
				v = g[p]
			}
			gn += v
			if v != w && first == "" {
				first = fmt.Sprintf("%s/%d has %d records, want %d", rename(t), p, v, w)
			}
		}
	}
	if first == "" {
		return ""
	}
	return fmt.Sprintf("%d records on the target, want %d; %s", gn, wn, first)
}

// commitGroups commits, for each group, offset at on every partition of
// topics, on the source: idle groups, as after their applications stopped.
func commitGroups(ctx context.Context, bootstrap []string, groups, topics []string, partitions int, at int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var offs kadm.Offsets = map[string]map[int32]kadm.Offset{}
	for _, t := range topics {
		for p := range partitions {
			offs.Add(kadm.Offset{Topic: t, Partition: int32(p), At: at, LeaderEpoch: -1})
		}
	}
	for _, g := range groups {
		resp, err := adm.CommitOffsets(ctx, g, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("commit group %s: %w", g, err)
		}
	}
	return nil
}

// stateSize returns the records (sum of end offsets, markers included) of
// the state topic, and its bytes on disk from DescribeLogDirs, or -1 with
// the reason when the cluster does not say.
func stateSize(ctx context.Context, adm *kadm.Client, topic string) (offsets int64, bytes int64, note string, err error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, 0, "", err
	}
	ends.Each(func(o kadm.ListedOffset) { offsets += o.Offset })
	dirs, derr := adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{topic: nil})
	if derr != nil {
		return offsets, -1, "DescribeLogDirs: " + derr.Error(), nil
	}
	found := false
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == topic {
				bytes += p.Size
				found = true
			}
		})
	})
	if !found {
		return offsets, -1, "DescribeLogDirs answered without the state topic's partitions", nil
	}
	return offsets, bytes, "", nil
}
