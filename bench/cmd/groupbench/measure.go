package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	kmigration "github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Translation is one partition's answer from one method.
type Translation struct {
	Partition int32       `json:"p"`
	Kind      groups.Kind `json:"kind"`
	Offset    int64       `json:"offset"`
	Skipped   int64       `json:"skipped,omitempty"`
	Fetches   int         `json:"fetches,omitempty"`
}

func translation(p int32, r groups.Result) Translation {
	return Translation{Partition: p, Kind: r.Kind, Offset: r.Offset, Skipped: r.Skipped, Fetches: r.Fetches}
}

// Measured is what one method reported, from inside the process that ran
// it: the time of the method itself, without process start.
type Measured struct {
	Method      string `json:"method"`
	Concurrency int    `json:"concurrency,omitempty"`
	// Seconds is the method: for the map, loading the state, decoding the
	// maps and translating; for the search, every Search.
	Seconds float64 `json:"seconds"`
	// The map method's phases. GroupOffsetsSeconds (reading the group's
	// committed offsets from the source, which every method needs) is
	// not part of Seconds.
	GroupOffsetsSeconds float64 `json:"group_offsets_seconds,omitempty"`
	StateLoadSeconds    float64 `json:"state_load_seconds,omitempty"`
	DecodeSeconds       float64 `json:"decode_seconds,omitempty"`
	TranslateSeconds    float64 `json:"translate_seconds,omitempty"`
	// Requests counts the requests the method's clients sent, by API
	// name; ResponseBytes what they read, by API name; BytesRead is
	// the sum.
	Requests      map[string]int64 `json:"requests"`
	ResponseBytes map[string]int64 `json:"response_bytes"`
	BytesRead     int64            `json:"bytes_read"`
	Results       []Translation    `json:"results,omitempty"`
}

// counter is a franz-go hook that counts requests by API and response
// bytes.
type counter struct {
	mu    sync.Mutex
	reqs  map[int16]int64
	bytes map[int16]int64
}

func newCounter() *counter { return &counter{reqs: map[int16]int64{}, bytes: map[int16]int64{}} }

func (c *counter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		c.mu.Lock()
		c.reqs[key]++
		c.mu.Unlock()
	}
}

func (c *counter) OnBrokerRead(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	c.mu.Lock()
	c.bytes[key] += int64(n)
	c.mu.Unlock()
}

// reset forgets what was counted.
func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.reqs)
	clear(c.bytes)
}

// into adds the counts to m.
func (c *counter) into(m *Measured) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Requests == nil {
		m.Requests, m.ResponseBytes = map[string]int64{}, map[string]int64{}
	}
	for k, n := range c.reqs {
		m.Requests[kmsg.NameForKey(k)] += n
	}
	for k, n := range c.bytes {
		m.ResponseBytes[kmsg.NameForKey(k)] += n
		m.BytesRead += n
	}
}

func clientOpts(bootstrap []string, role string, c *counter) ([]kgo.Opt, error) {
	opts, err := cluster.Opts(&config.Cluster{Role: role, Bootstrap: bootstrap}, nil)
	if err != nil {
		return nil, err
	}
	return append(opts, kgo.WithHooks(c)), nil
}

// mapMethod translates the group's offsets from the offset map: it reads
// the group's committed offsets from the source, loads the state topic from
// the target (state.Load), decodes each partition's map
// (groups.FromSnapshot) and translates (groups.Translate). No fetch of the
// mirrored topic.
func mapMethod(ctx context.Context, in *Inputs) (*Measured, error) {
	m := &Measured{Method: "map"}
	srcCount, tgtCount := newCounter(), newCounter()
	srcOpts, err := clientOpts(in.Source, "source", srcCount)
	if err != nil {
		return nil, err
	}
	tgtOpts, err := clientOpts(in.Target, "target", tgtCount)
	if err != nil {
		return nil, err
	}
	src, err := kgo.NewClient(srcOpts...)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	tgt, err := kgo.NewClient(tgtOpts...)
	if err != nil {
		return nil, err
	}
	defer tgt.Close()

	start := time.Now()
	committed, err := kadm.NewClient(src).FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("fetch the group's offsets: %w", err)
	}
	m.GroupOffsetsSeconds = time.Since(start).Seconds()
	for _, pi := range in.Partitions {
		o, ok := committed.Lookup(topic, pi.Partition)
		if !ok || o.At != pi.Committed {
			return nil, fmt.Errorf("partition %d: the group committed %d (found %v), want %d", pi.Partition, o.At, ok, pi.Committed)
		}
	}

	start = time.Now()
	snap, err := state.Load(ctx, kadm.NewClient(tgt), state.TopicName(migration), tgtOpts)
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	loaded := time.Now()
	parts := make([]groups.Partition, len(in.Partitions))
	for i, pi := range in.Partitions {
		if parts[i], err = groups.FromSnapshot(snap, state.TopicPartition{Topic: topic, Partition: pi.Partition}); err != nil {
			return nil, err
		}
	}
	decoded := time.Now()
	m.Results = make([]Translation, len(in.Partitions))
	for i, pi := range in.Partitions {
		r, err := groups.Translate(parts[i], committed[topic][pi.Partition].At)
		if err != nil {
			return nil, fmt.Errorf("translate partition %d: %w", pi.Partition, err)
		}
		m.Results[i] = translation(pi.Partition, r)
	}
	end := time.Now()
	m.StateLoadSeconds = loaded.Sub(start).Seconds()
	m.DecodeSeconds = decoded.Sub(loaded).Seconds()
	m.TranslateSeconds = end.Sub(decoded).Seconds()
	m.Seconds = end.Sub(start).Seconds()
	srcCount.into(m)
	tgtCount.into(m)
	return m, nil
}

// searchMethod translates every partition's committed offset with
// groups.Search, concurrency partitions at a time, over one client to the
// target. The committed offsets, checkpoints and expired ranges come from
// in (read by the parent), so only the searches are timed.
func searchMethod(ctx context.Context, in *Inputs, concurrency int) (*Measured, error) {
	m := &Measured{Method: "search", Concurrency: concurrency}
	count := newCounter()
	opts, err := clientOpts(in.Target, "target", count)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	m.Results = make([]Translation, len(in.Partitions))
	errs := make([]error, len(in.Partitions))
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range max(1, concurrency) {
		wg.Go(func() {
			for i := range work {
				pi := in.Partitions[i]
				r, err := groups.Search(ctx, cl, groups.SearchRequest{
					Topic: topic, Partition: pi.Partition,
					Source: groups.SourcePartition{ClusterID: in.SourceID, Topic: topic, Partition: pi.Partition},
					Offset: pi.Committed, Checkpoint: pi.Checkpoint, Expired: pi.Expired,
				})
				m.Results[i], errs[i] = translation(pi.Partition, r), err
			}
		})
	}
	for i := range in.Partitions {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	m.Seconds = time.Since(start).Seconds()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("search partition %d: %w", in.Partitions[i].Partition, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	count.into(m)
	return m, nil
}

// FetchStats summarises Search's fetches per partition.
type FetchStats struct {
	Mean float64 `json:"mean"`
	P50  int     `json:"p50"`
	P90  int     `json:"p90"`
	Max  int     `json:"max"`
	// Bound is the largest 2*ceil(log2 n)+4 over the partitions (n: the
	// target partition's offsets); OverBound counts partitions whose
	// search used more fetches than their own bound.
	Bound     int `json:"bound"`
	OverBound int `json:"over_bound"`
	// MaxN is the largest n.
	MaxN int64 `json:"max_n"`
}

// bound is the fetch bound the package tests assert for a partition of n
// offsets: 2*ceil(log2 n)+4.
func bound(n int64) int {
	c := 0
	for v := int64(1); v < n; v <<= 1 {
		c++
	}
	return 2*c + 4
}

func fetchStats(in *Inputs, res []Translation) FetchStats {
	var st FetchStats
	if len(res) == 0 {
		return st
	}
	fs := make([]int, len(res))
	sum := 0
	for i, r := range res {
		fs[i] = r.Fetches
		sum += r.Fetches
		n := in.Partitions[i].End - in.Partitions[i].Start
		b := bound(n)
		st.Bound = max(st.Bound, b)
		st.MaxN = max(st.MaxN, n)
		if r.Fetches > b {
			st.OverBound++
		}
	}
	slices.Sort(fs)
	st.Mean = float64(sum) / float64(len(fs))
	st.P50 = fs[(len(fs)-1)/2]
	st.P90 = fs[(len(fs)-1)*9/10]
	st.Max = fs[len(fs)-1]
	return st
}

// compare describes the first partitions where two methods disagree on
// kind, offset or skipped count, or returns "".
func compare(a, b []Translation) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d results against %d", len(a), len(b))
	}
	var diffs []string
	n := 0
	for i := range a {
		x, y := a[i], b[i]
		if x.Partition != y.Partition || x.Kind != y.Kind || x.Offset != y.Offset || x.Skipped != y.Skipped {
			n++
			if len(diffs) < 5 {
				diffs = append(diffs, fmt.Sprintf("partition %d: %s@%d (skipped %d) against partition %d: %s@%d (skipped %d)",
					x.Partition, x.Kind, x.Offset, x.Skipped, y.Partition, y.Kind, y.Offset, y.Skipped))
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d partitions differ, e.g. %v", n, len(a), diffs)
}

// expectKinds checks the kinds against what the data implies: every source
// record was copied, so a committed offset inside the partition is Exact
// and one at its end is End, at the end of the target partition's data.
func expectKinds(in *Inputs, res []Translation, records int) string {
	for i, r := range res {
		pi := in.Partitions[i]
		want := groups.Exact
		if pi.Committed == int64(records) {
			want = groups.End
			if r.Kind == want && r.Offset != pi.Checkpoint.TargetNext {
				return fmt.Sprintf("partition %d: end at target offset %d, want %d (the checkpoint's target end)", pi.Partition, r.Offset, pi.Checkpoint.TargetNext)
			}
		}
		if r.Kind != want {
			return fmt.Sprintf("partition %d: committed %d translated as %s, want %s", pi.Partition, pi.Committed, r.Kind, want)
		}
	}
	return ""
}

// migrateMethod runs groups.Migrate as `kmigrate groups migrate
// --dry-run` does for the whole group: checks that the group is inactive
// on both clusters, reads its committed offsets and the state, translates
// from the offset map and reads the target record each translation points
// at (one verification fetch per partition), without committing.
func migrateMethod(ctx context.Context, in *Inputs) (*Measured, error) {
	m := &Measured{Method: "migrate"}
	srcCount, tgtCount := newCounter(), newCounter()
	cfg := &config.Config{
		Name:   migration,
		Source: config.Cluster{Role: "source", Bootstrap: in.Source},
		Target: config.Cluster{Role: "target", Bootstrap: in.Target},
	}
	all, err := config.NewSelection(nil, nil)
	if err != nil {
		return nil, err
	}
	cfg.Topics.Selection, cfg.Groups.Selection = all, all
	h, err := kmigration.Open(ctx, cfg, nil, kmigration.ClientOpts([]kgo.Opt{kgo.WithHooks(srcCount)}, []kgo.Opt{kgo.WithHooks(tgtCount)}))
	if err != nil {
		return nil, err
	}
	defer h.Close()
	// Opening probes both clusters and reads the state: count only what
	// the migration itself sends.
	srcCount.reset()
	tgtCount.reset()
	start := time.Now()
	res, err := groups.Migrate(ctx, h, group, groups.MigrateOptions{DryRun: true})
	m.Seconds = time.Since(start).Seconds()
	if err != nil {
		return nil, fmt.Errorf("groups.Migrate --dry-run: %w", err)
	}
	byPart := map[int32]groups.PartitionResult{}
	for _, pr := range res.Partitions {
		if pr.Topic == topic {
			byPart[pr.Partition] = pr
		}
	}
	m.Results = make([]Translation, len(in.Partitions))
	for i, pi := range in.Partitions {
		pr, ok := byPart[pi.Partition]
		if !ok {
			return nil, fmt.Errorf("groups.Migrate --dry-run: no result for partition %d", pi.Partition)
		}
		m.Results[i] = Translation{Partition: pi.Partition, Kind: pr.Kind, Offset: pr.To, Skipped: pr.Skipped}
	}
	srcCount.into(m)
	tgtCount.into(m)
	return m, nil
}
