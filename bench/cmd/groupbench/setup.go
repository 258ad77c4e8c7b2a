package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/workload"
	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Names used on the clusters. The target topic has the source topic's name
// (the clusters differ). On existing clusters (--source, --target) each
// gets the run's prefix (setNames), which the inputs carry to the
// children.
var (
	topic     = "groupbench.source"
	migration = "groupbench"
	group     = "groupbench.group"
)

// setNames prefixes the names used on the clusters.
func setNames(prefix string) {
	topic, migration, group = prefix+"source", prefix+"migration", prefix+"group"
}

// Shape is the data of one run.
type Shape struct {
	Partitions int `json:"partitions"`
	// Records is per partition.
	Records int `json:"records_per_partition"`
	// Size is each value's length; keys are workload.KeyLen bytes.
	Size int    `json:"value_size"`
	Seed uint64 `json:"seed"`
}

// Clusters are the source and target of a run.
type Clusters struct {
	Source, Target     config.Cluster
	SourceID, TargetID string
}

func newClusters(ctx context.Context, source, target []string) (Clusters, error) {
	c := Clusters{
		Source: config.Cluster{Role: "source", Bootstrap: source},
		Target: config.Cluster{Role: "target", Bootstrap: target},
	}
	var err error
	if c.SourceID, err = clusterID(ctx, source); err != nil {
		return c, fmt.Errorf("source: %w", err)
	}
	if c.TargetID, err = clusterID(ctx, target); err != nil {
		return c, fmt.Errorf("target: %w", err)
	}
	return c, nil
}

func clusterID(ctx context.Context, bootstrap []string) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return "", fmt.Errorf("cluster metadata: %w", err)
	}
	return m.Cluster, nil
}

// Setup says how the data was made; none of it is measured beyond its
// duration.
type Setup struct {
	// Copy says how the target was written.
	Copy          string  `json:"copy"`
	CreateSeconds float64 `json:"create_topics_seconds"`
	SeedSeconds   float64 `json:"seed_seconds"`
	SeedRecords   int64   `json:"seed_records"`
	// SeedBytes counts keys and values.
	SeedBytes      int64   `json:"seed_bytes"`
	CopySeconds    float64 `json:"copy_seconds"`
	CopiedRecords  int64   `json:"copied_records"`
	Transactions   int64   `json:"transactions"`
	CommitSeconds  float64 `json:"group_commit_seconds"`
	InspectSeconds float64 `json:"inspect_seconds"`
	TargetOffsets  int64   `json:"target_offsets"`
	StateRecords   int64   `json:"state_records"`
	StateMarkers   int64   `json:"state_markers"`
	StateBytes     int64   `json:"state_bytes"`
	OffsetMapBytes int64   `json:"offset_map_bytes"`
	OffsetMapRuns  int64   `json:"offset_map_runs"`
	// SeedMaxRSS and HarnessMaxRSS are the harness's peak RSS (VmHWM)
	// after seeding and after copying (the mirror runs in the harness).
	SeedMaxRSS      int64 `json:"seed_max_rss_bytes"`
	HarnessMaxRSS   int64 `json:"harness_max_rss_bytes"`
	DataDirBytes    int64 `json:"data_dir_bytes,omitempty"`
	CommittedAt0    int   `json:"committed_at_0"`
	CommittedAtEnd  int   `json:"committed_at_end"`
	CommittedInside int   `json:"committed_inside"`
}

// Inputs is what the measuring children are given: where the data is,
// the group's offsets as committed, and what Search needs from the state
// topic (checkpoints and expired ranges), read by the parent.
type Inputs struct {
	Source, Target []string
	SourceID       string
	// Prefix is the run's prefix of the names on existing clusters ("" on
	// a sandbox).
	Prefix     string
	Partitions []PartInput
}

// PartInput is one partition's input.
type PartInput struct {
	Partition  int32
	Committed  int64
	Checkpoint state.Checkpoint
	Expired    []state.Expired
	// Start and End are the target partition's log start and last stable
	// offset: Search's range, n = End - Start.
	Start, End int64
}

// createTopics creates the topic on both clusters with infinite retention.
func createTopics(ctx context.Context, c Clusters, s Shape) error {
	if err := workload.CreateTopic(ctx, c.Source.Bootstrap, topic, s.Partitions); err != nil {
		return err
	}
	return workload.CreateTopic(ctx, c.Target.Bootstrap, topic, s.Partitions)
}

// seedChunk is how many consecutive records of one partition the seeder
// produces before it moves on to the next partition: about one full record
// batch of small records, so that batches leave full and each produce
// request carries many partitions.
const seedChunk = 16 << 10

// seed fills every source partition with s.Records records, fast: full
// batches, and enough buffered records that a produce request carries
// dozens of partitions. Record j of partition p is workload record
// j*Partitions+p (key "k" and ten digits, a value of Size bytes).
func seed(ctx context.Context, c Clusters, s Shape) (records, bytes int64, err error) {
	spec, err := workload.NewSpec(s.Partitions*s.Records, s.Size, s.Partitions, s.Seed)
	if err != nil {
		return 0, 0, err
	}
	cl, err := kgo.NewClient(append(workload.ProducerOpts(c.Source.Bootstrap),
		kgo.ProducerLinger(50*time.Millisecond),
		kgo.MaxBufferedRecords(1<<20),
	)...)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	var (
		mu       sync.Mutex
		firstErr error
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			firstErr = cmpErr(firstErr, err)
			mu.Unlock()
		}
	}
	for from := 0; from < s.Records && ctx.Err() == nil; from += seedChunk {
		for p := range s.Partitions {
			for j := from; j < min(s.Records, from+seedChunk); j++ {
				i := j*s.Partitions + p
				cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(p), Key: spec.Key(i), Value: spec.Value(i)}, done)
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, 0, fmt.Errorf("seed: flush: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return 0, 0, fmt.Errorf("seed: %w", firstErr)
	}
	n := int64(s.Partitions) * int64(s.Records)
	return n, n * int64(workload.KeyLen+s.Size), ctx.Err()
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// copyTopic copies the source topic to the target with kmigrate's mirror
// engine as `kmigrate mirror --until end` runs it: exactly-once, tracing
// headers on, the default memory budget and transaction bounds.
func copyTopic(ctx context.Context, c Clusters) (mirror.Stats, error) {
	sel, err := config.NewSelection(nil, nil)
	if err != nil {
		return mirror.Stats{}, err
	}
	settings := config.DefaultMirror()
	settings.Until = config.UntilEnd
	m, err := mirror.New(mirror.Options{
		Name:   migration,
		Source: &c.Source, Target: &c.Target,
		SourceID: c.SourceID, TargetID: c.TargetID,
		Topics:                 []mirror.Topic{{Source: topic, Target: topic}},
		Groups:                 sel,
		Settings:               settings,
		StateReplicationFactor: -1,
		Logger:                 slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return mirror.Stats{}, err
	}
	if err := m.Run(ctx); err != nil {
		return m.Stats(), fmt.Errorf("mirror: %w", err)
	}
	st := m.Stats()
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("mirror: %w", err)
	}
	if !st.Done {
		return st, errors.New("mirror: Run returned before the copy was done")
	}
	return st, nil
}

// committedOffset is the offset the group commits in partition p: a few
// partitions at 0 and at the end, the rest pseudo-random in [0, records].
func committedOffset(s Shape, p int) int64 {
	switch p % 100 {
	case 0:
		return 0
	case 1:
		return int64(s.Records)
	}
	rng := rand.New(rand.NewPCG(s.Seed, uint64(p)))
	return rng.Int64N(int64(s.Records) + 1)
}

// commitGroup commits committedOffset in every source partition for the
// group, as an admin (the group has no members).
func commitGroup(ctx context.Context, c Clusters, s Shape) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Source.Bootstrap...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var os kadm.Offsets
	want := map[int32]int64{}
	for p := range s.Partitions {
		o := committedOffset(s, p)
		os.AddOffset(topic, int32(p), o, -1)
		want[int32(p)] = o
	}
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, group, os); err != nil {
		return nil, fmt.Errorf("commit the group's offsets: %w", err)
	}
	return want, nil
}

// inspect reads what the copy left on the target: the state (for Search's
// inputs), the state topic's size, and each target partition's bounds.
func inspect(ctx context.Context, c Clusters, s Shape, committed map[int32]int64, setup *Setup) (*Inputs, error) {
	opts, err := cluster.Opts(&c.Target, nil)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	snap, err := state.Load(ctx, adm, state.TopicName(migration), opts)
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	for _, segs := range snap.Segments {
		for _, v := range segs {
			setup.OffsetMapBytes += int64(len(v))
		}
	}
	if setup.StateRecords, setup.StateMarkers, setup.StateBytes, err = countTopic(ctx, opts, state.TopicName(migration)); err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("target start offsets: %w", err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("target end offsets: %w", err)
	}
	in := &Inputs{Source: c.Source.Bootstrap, Target: c.Target.Bootstrap, SourceID: c.SourceID}
	for p := range int32(s.Partitions) {
		tp := state.TopicPartition{Topic: topic, Partition: p}
		cp, ok := snap.Checkpoints[tp]
		if !ok {
			return nil, fmt.Errorf("no checkpoint for %s in the state", tp)
		}
		if cp.Next != int64(s.Records) {
			return nil, fmt.Errorf("%s: checkpoint at %d, want %d: the copy is incomplete", tp, cp.Next, s.Records)
		}
		part, err := groups.FromSnapshot(snap, tp)
		if err != nil {
			return nil, err
		}
		setup.OffsetMapRuns += int64(part.Map.Len())
		st, _ := starts.Lookup(topic, p)
		en, _ := ends.Lookup(topic, p)
		in.Partitions = append(in.Partitions, PartInput{
			Partition: p, Committed: committed[p], Checkpoint: cp, Expired: snap.Expired[tp],
			Start: st.Offset, End: en.Offset,
		})
		setup.TargetOffsets += en.Offset - st.Offset
		switch committed[p] {
		case 0:
			setup.CommittedAt0++
		case int64(s.Records):
			setup.CommittedAtEnd++
		default:
			setup.CommittedInside++
		}
	}
	return in, nil
}

// countTopic reads a one-partition topic to its end at read_committed and
// counts its data records, the transaction markers among its offsets, and
// the bytes of keys and values.
func countTopic(ctx context.Context, opts []kgo.Opt, name string) (records, markers, bytes int64, err error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, 0, 0, err
	}
	adm := kadm.NewClient(cl)
	ends, err := adm.ListCommittedOffsets(ctx, name)
	cl.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("end of %s: %w", name, err)
	}
	end, _ := ends.Lookup(name, 0)
	if end.Offset == 0 {
		return 0, 0, 0, nil
	}
	rd, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{name: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return 0, 0, 0, err
	}
	defer rd.Close()
	for next := int64(0); next < end.Offset; {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, 0, 0, err
		}
		if err := fs.Err(); err != nil {
			return 0, 0, 0, fmt.Errorf("read %s: %w", name, err)
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			// Compaction may have removed the records up to the end.
			if p.LastStableOffset >= end.Offset && len(p.Records) == 0 {
				next = end.Offset
			}
		})
		for _, r := range fs.Records() {
			next = r.Offset + 1
			if r.Attrs.IsControl() {
				markers++
				continue
			}
			records++
			bytes += int64(len(r.Key) + len(r.Value))
		}
	}
	return records, markers, bytes, nil
}
