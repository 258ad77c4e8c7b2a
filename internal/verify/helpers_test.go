package verify_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
	"github.com/kmigrate/kmigrate/internal/verify"
)

// migrationName is the name every test fixture mirrors under.
const migrationName = "verify-test"

func newPair(t *testing.T) *kafkatest.Pair {
	t.Helper()
	return kafkatest.NewPair(t, kafkatest.Brokers(1))
}

// createTopic creates topic with n partitions on both clusters, with
// srcCfg added on the source and tgtCfg on the target.
func createTopic(t *testing.T, pair *kafkatest.Pair, topic string, n int32, srcCfg, tgtCfg map[string]string) {
	t.Helper()
	with := func(extra map[string]string) map[string]string {
		cfg := map[string]string{"retention.ms": "-1"}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	pair.Source.CreateTopic(t, topic, n, with(srcCfg))
	pair.Target.CreateTopic(t, topic, n, with(tgtCfg))
}

// mirrorOnce runs a bounded exactly-once copy of topics (same names on
// both sides) with the real mirror engine; change adjusts the settings.
func mirrorOnce(t *testing.T, pair *kafkatest.Pair, change func(*config.Mirror), topics ...string) {
	t.Helper()
	sel, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	settings := config.DefaultMirror()
	settings.Until = config.UntilEnd
	settings.TransactionInterval = 50 * time.Millisecond
	if change != nil {
		change(&settings)
	}
	var ts []mirror.Topic
	for _, tp := range topics {
		ts = append(ts, mirror.Topic{Source: tp, Target: tp})
	}
	m, err := mirror.New(mirror.Options{
		Name: migrationName, Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID,
		Topics: ts, Groups: sel, Settings: settings, StateReplicationFactor: -1,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("mirror: %v", err)
	}
}

// runConfig is what a test may change about a verification.
type runConfig struct {
	verify.Options
	// source and target are extra client options (fault injection).
	source, target []kgo.Opt
	// groups, when set, replaces the selection of every group.
	groups *config.Selection
}

// run verifies the pair's migration; change adjusts what it runs with.
func run(t *testing.T, pair *kafkatest.Pair, change func(*runConfig)) *verify.Report {
	t.Helper()
	var rc runConfig
	if change != nil {
		change(&rc)
	}
	cfg := pair.Config(t, migrationName)
	if rc.groups != nil {
		cfg.Groups.Selection = *rc.groups
	}
	h := pair.Open(t, migrationName, cfg, migration.ClientOpts(rc.source, rc.target))
	v, err := verify.New(t.Context(), h, rc.Options)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	rep, err := v.Run(ctx)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func sample(n int) func(*runConfig) { return func(o *runConfig) { o.Sample = n } }

// produceN produces n records to topic/p on c, values and keys prefix-i,
// each with a header and a timestamp 1700000000000+i ms.
func produceN(t *testing.T, c *kafkatest.Cluster, topic string, p int32, n int, prefix string) []*kgo.Record {
	t.Helper()
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{
			Topic: topic, Partition: p, Key: fmt.Appendf(nil, "%s-%d", prefix, i), Value: fmt.Appendf(nil, "%s-%d", prefix, i),
			Headers:   []kgo.RecordHeader{{Key: "n", Value: fmt.Appendf(nil, "%d", i)}},
			Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i)),
		})
	}
	c.Produce(t, rs...)
	return rs
}

// copies returns, for partition p of topic on the target, the target
// offset of the copy of each source offset (by tracing header) and the
// copies themselves.
func copies(t *testing.T, c *kafkatest.Cluster, topic string, p int32) (map[int64]int64, map[int64]*kgo.Record) {
	t.Helper()
	at, recs := map[int64]int64{}, map[int64]*kgo.Record{}
	for _, r := range c.ConsumeAll(t, topic) {
		if r.Partition != p {
			continue
		}
		if o, ok, err := trace.Find(r.Headers); err == nil && ok {
			at[o.Offset], recs[o.Offset] = r.Offset, r
		}
	}
	return at, recs
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

// endOffset is the last stable offset of topic/p on c.
func endOffset(t *testing.T, c *kafkatest.Cluster, topic string, p int32) int64 {
	t.Helper()
	ends, err := c.Admin(t).ListCommittedOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := ends.Lookup(topic, p)
	if !ok || e.Err != nil {
		t.Fatalf("end of %s/%d: %v", topic, p, e.Err)
	}
	return e.Offset
}

// startOffset is the log start offset of topic/p on c.
func startOffset(t *testing.T, c *kafkatest.Cluster, topic string, p int32) int64 {
	t.Helper()
	starts, err := c.Admin(t).ListStartOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := starts.Lookup(topic, p)
	if !ok || s.Err != nil {
		t.Fatalf("start of %s/%d: %v", topic, p, s.Err)
	}
	return s.Offset
}

// partition returns the report of topic/p.
func partition(t *testing.T, rep *verify.Report, topic string, p int32) verify.PartitionReport {
	t.Helper()
	for _, pr := range rep.Partitions {
		if pr.Topic == topic && pr.Partition == p {
			return pr
		}
	}
	t.Fatalf("no report for %s/%d in %+v", topic, p, rep.Partitions)
	return verify.PartitionReport{}
}

// problems returns the partition's problems without their details (which
// are for people), and fails the test if a detail is empty.
func problems(t *testing.T, pr verify.PartitionReport) []verify.Problem {
	t.Helper()
	out := []verify.Problem{}
	for _, p := range pr.Problems {
		if p.Detail == "" {
			t.Errorf("problem without detail: %+v", p)
		}
		p.Detail = ""
		out = append(out, p)
	}
	return out
}

// build writes a target copy of src (records as produced on the source,
// with their offsets) by hand, as the mirror would: the copies of
// src[order[i]] at target offsets 0, 1, ..., each with its tracing header,
// after change (which may alter it), and the state: meta, checkpoint and
// the offset map segments of the in-order copy the mirror would have made
// (copy of src[i] at target offset i). The target topic must be empty.
func build(t *testing.T, pair *kafkatest.Pair, topic string, src []*kgo.Record, order []int, change func(i int, r *kgo.Record)) {
	t.Helper()
	enc := trace.NewEncoder(pair.Source.ID, topic)
	var out []*kgo.Record
	for i, j := range order {
		s := src[j]
		r := &kgo.Record{Topic: topic, Partition: s.Partition, Key: s.Key, Value: s.Value, Timestamp: s.Timestamp,
			Headers: append(trace.Strip(append([]kgo.RecordHeader(nil), s.Headers...)),
				kgo.RecordHeader{Key: trace.HeaderKey, Value: enc.Append(nil, s.Partition, s.Offset, s.Timestamp.UnixMilli())})}
		if change != nil {
			change(i, r)
		}
		out = append(out, r)
	}
	pair.Target.Produce(t, out...)
	tp := state.TopicPartition{Topic: topic, Partition: src[0].Partition}
	seg, err := offsetmap.NewSegmenter(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range src {
		if err := seg.Add(s.Offset, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	st := state.TopicName(migrationName)
	if _, err := state.Ensure(t.Context(), pair.Target.Admin(t), st, -1); err != nil {
		t.Fatal(err)
	}
	must := func(r *kgo.Record, err error) *kgo.Record {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	recs := []*kgo.Record{
		must(state.MetaRecord(st, state.Meta{Migration: migrationName, SourceClusterID: pair.Source.ID, TargetClusterID: pair.Target.ID,
			Created: time.Now(), Guarantee: "exactly-once", TracingHeaders: true, Topics: map[string]string{topic: topic}})),
		must(state.CheckpointRecord(st, tp, state.Checkpoint{Next: src[len(src)-1].Offset + 1, TargetNext: int64(len(src)), Records: int64(len(src)), Updated: time.Now()})),
	}
	for _, s := range seg.Pending() {
		recs = append(recs, state.OffsetMapRecord(st, tp, s.Key, s.AppendValue(nil)))
	}
	pair.Target.Produce(t, recs...)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
