package groups_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// noRetention keeps kfake from deleting records with old timestamps.
var noRetention = map[string]string{"retention.ms": "-1"}

func newPair(t *testing.T) *kafkatest.Pair {
	t.Helper()
	return kafkatest.NewPair(t, kafkatest.Brokers(1))
}

// createTopic creates topic with n partitions on both clusters, with cfg
// added on the source.
func createTopic(t *testing.T, pair *kafkatest.Pair, topic string, n int32, cfg map[string]string) {
	t.Helper()
	src := map[string]string{"retention.ms": "-1"}
	for k, v := range cfg {
		src[k] = v
	}
	pair.Source.CreateTopic(t, topic, n, src)
	pair.Target.CreateTopic(t, topic, n, noRetention)
}

// mirrorOnce runs a bounded exactly-once copy of topics (same names on
// both sides) for migration name.
func mirrorOnce(t *testing.T, pair *kafkatest.Pair, name string, topics ...string) {
	t.Helper()
	if err := mirrorErr(t, pair, name, topics...); err != nil {
		t.Fatal(err)
	}
}

// mirrorErr is mirrorOnce for goroutines other than the test's.
func mirrorErr(t *testing.T, pair *kafkatest.Pair, name string, topics ...string) error {
	sel, err := config.NewSelection(nil, nil)
	if err != nil {
		return err
	}
	settings := config.DefaultMirror()
	settings.Until = config.UntilEnd
	settings.TransactionInterval = 50 * time.Millisecond
	var ts []mirror.Topic
	for _, tp := range topics {
		ts = append(ts, mirror.Topic{Source: tp, Target: tp})
	}
	m, err := mirror.New(mirror.Options{
		Name: name, Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID,
		Topics: ts, Groups: sel, Settings: settings, StateReplicationFactor: -1,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	if ctx.Err() != nil {
		return errors.New("mirror did not finish within 60s")
	}
	return nil
}

// loadState reads migration name's state topic from the target.
func loadState(t *testing.T, pair *kafkatest.Pair, name string) *state.Snapshot {
	t.Helper()
	opts, err := cluster.Opts(&pair.Target.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	snap, err := state.Load(ctx, pair.Target.Admin(t), state.TopicName(name), opts)
	if err != nil {
		t.Fatalf("load state of %s: %v", name, err)
	}
	return snap
}

// offsetMap decodes the offset map of tp from snap (empty if none).
func offsetMap(t *testing.T, snap *state.Snapshot, tp state.TopicPartition) *offsetmap.Map {
	t.Helper()
	segs, err := offsetmap.DecodeSegments(snap.Segments[tp])
	if err != nil {
		t.Fatalf("%s: %v", tp, err)
	}
	m, err := offsetmap.Load(segs)
	if err != nil {
		t.Fatalf("%s: %v", tp, err)
	}
	return m
}

// produceN produces n records to topic/p on c, one batch per call of
// batch records, with values prefix-i.
func produceN(t *testing.T, c *kafkatest.Cluster, topic string, p int32, n, batch int, prefix string) {
	t.Helper()
	for i := 0; i < n; i += batch {
		var rs []*kgo.Record
		for j := i; j < min(n, i+batch); j++ {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "%s-%d", prefix, j), Value: fmt.Appendf(nil, "%s-%d", prefix, j)})
		}
		c.Produce(t, rs...)
	}
}

func deleteRecords(t *testing.T, c *kafkatest.Cluster, topic string, p int32, below int64) {
	t.Helper()
	var os kadm.Offsets
	os.AddOffset(topic, p, below, -1)
	resp, err := c.Admin(t).DeleteRecords(t.Context(), os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("delete records: %v", err)
	}
}

func partitionOf(rs []*kgo.Record, p int32) []*kgo.Record {
	var out []*kgo.Record
	for _, r := range rs {
		if r.Partition == p {
			out = append(out, r)
		}
	}
	return out
}

// checkPartition translates every source offset of partition p of topic
// from 0 to the checkpoint + 2 with Translate and with Search (with the
// default fetch size and with one batch per fetch), checks that both agree
// (kind, offset, skipped), and checks the answer against the records
// themselves: the first record a read_committed consumer receives at the
// translated offset is the copy of the first source record at or after c
// (by its tracing header), and the kind says which case that is. It
// returns the largest fetch count seen. src are the source records that
// were copyable (those below the checkpoint count); nil reads them from the
// source, for fixtures that deleted nothing.
func checkPartition(t *testing.T, pair *kafkatest.Pair, snap *state.Snapshot, topic string, p int32, src []*kgo.Record) int {
	t.Helper()
	tp := state.TopicPartition{Topic: topic, Partition: p}
	cp, ok := snap.Checkpoints[tp]
	if !ok {
		t.Fatalf("%s: no checkpoint", tp)
	}
	part, err := groups.FromSnapshot(snap, tp)
	if err != nil {
		t.Fatal(err)
	}
	if src == nil {
		src = pair.Source.ConsumeAll(t, topic)
	}
	src = slices.DeleteFunc(partitionOf(src, p), func(r *kgo.Record) bool { return r.Offset >= cp.Next })
	tgt := partitionOf(pair.Target.ConsumeAll(t, topic), p)
	// The target offset of the copy of each source offset, and the last
	// mirrored target offset.
	copyOf := map[int64]int64{}
	lastCopy := int64(-1)
	for _, r := range tgt {
		o, ok, err := trace.Find(r.Headers)
		if err != nil {
			t.Fatalf("%s target offset %d: %v", tp, r.Offset, err)
		}
		if ok {
			copyOf[o.Offset] = r.Offset
			lastCopy = r.Offset
		}
	}
	if len(copyOf) != len(src) {
		t.Fatalf("%s: %d copies on the target, %d source records: the fixture did not mirror everything", tp, len(copyOf), len(src))
	}
	cl := pair.Target.Client(t)
	source := groups.SourcePartition{ClusterID: pair.Source.ID, Topic: topic, Partition: p}
	maxFetches := 0
	for c := int64(0); c <= cp.Next+2; c++ {
		want := expected(src, copyOf, lastCopy, part, c)
		got, err := groups.Translate(part, c)
		if err != nil || got != want {
			t.Errorf("%s: Translate(%d) = %+v, %v; want %+v", tp, c, got, err, want)
		}
		for _, size := range []int32{0, 1} {
			got, err := groups.Search(t.Context(), cl, groups.SearchRequest{
				Topic: topic, Partition: p, Source: source, Offset: c, Checkpoint: cp, Expired: part.Expired, FetchMaxBytes: size,
			})
			maxFetches = max(maxFetches, got.Fetches)
			if want.Kind == groups.NotYetMirrored && got.Fetches != 0 {
				t.Errorf("%s: Search(%d) sent %d fetches for an offset not yet mirrored", tp, c, got.Fetches)
			}
			got.Fetches = 0
			if err != nil || got != want {
				t.Errorf("%s: Search(%d, fetch size %d) = %+v, %v; want %+v", tp, c, size, got, err, want)
			}
		}
		if want.Kind == groups.NotYetMirrored || want.Kind == groups.End {
			continue
		}
		// The first record a consumer at the translated offset receives.
		i, _ := slices.BinarySearchFunc(tgt, want.Offset, func(r *kgo.Record, o int64) int { return int(r.Offset - o) })
		if i == len(tgt) {
			t.Errorf("%s: c %d: translated offset %d is past every record", tp, c, want.Offset)
			continue
		}
		o, ok, _ := trace.Find(tgt[i].Headers)
		j, _ := slices.BinarySearchFunc(src, c, func(r *kgo.Record, o int64) int { return int(r.Offset - o) })
		if !ok || o.Offset != src[j].Offset {
			t.Errorf("%s: c %d: consumer at %d first receives target %d (origin %v, mirrored %v), want the copy of source %d", tp, c, want.Offset, tgt[i].Offset, o, ok, src[j].Offset)
		}
	}
	return maxFetches
}

// expected is the exact translation of c, computed from the records alone
// (not from the offset map).
func expected(src []*kgo.Record, copyOf map[int64]int64, lastCopy int64, part groups.Partition, c int64) groups.Result {
	if c > part.Checkpoint.Next {
		return groups.Result{Kind: groups.NotYetMirrored, Offset: -1}
	}
	j, _ := slices.BinarySearchFunc(src, c, func(r *kgo.Record, o int64) int { return int(r.Offset - o) })
	switch {
	case j == len(src):
		return groups.Result{Kind: groups.End, Offset: lastCopy + 1}
	case src[j].Offset == c:
		return groups.Result{Kind: groups.Exact, Offset: copyOf[c]}
	case j == 0 && (part.Checkpoint.Start == nil || c < *part.Checkpoint.Start):
		return groups.Result{Kind: groups.Expired, Offset: copyOf[src[0].Offset], Skipped: src[0].Offset - c}
	}
	for _, e := range part.Expired {
		if c >= e.From && c < e.Until {
			return groups.Result{Kind: groups.Expired, Offset: copyOf[src[j].Offset], Skipped: src[j].Offset - c}
		}
	}
	return groups.Result{Kind: groups.NextCopied, Offset: copyOf[src[j].Offset]}
}
