package mirror_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

func selectAll(t *testing.T) config.Selection {
	t.Helper()
	s, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bounded returns default settings for a bounded exactly-once copy with
// short transactions.
func bounded() config.Mirror {
	m := config.DefaultMirror()
	m.Until = config.UntilEnd
	m.TransactionInterval = 50 * time.Millisecond
	return m
}

// newMirror builds a Mirror copying topics (same name on both sides).
func newMirror(t *testing.T, pair *kafkatest.Pair, name string, settings config.Mirror, topics ...string) *mirror.Mirror {
	t.Helper()
	return mustNew(t, options(t, pair, name, settings, topics...))
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func run(t *testing.T, m *mirror.Mirror) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not finish within 60s")
	}
}

// assertMirrored checks that target topic tgt holds exactly the records of
// source topic src, partition by partition, in order, with key, value,
// headers (less tracing headers) and timestamp, and that each tracing
// header names its source record. It returns the number of records.
func assertMirrored(t *testing.T, pair *kafkatest.Pair, src, tgt string, tracing bool) int {
	t.Helper()
	want := pair.Source.ConsumeAll(t, src)
	assertRecords(t, pair, tgt, want, tracing)
	return len(want)
}

// assertMirroredFrom is assertMirrored for a copy that started at source
// offset from[p] in partition p (0 where from has no entry): it returns the
// number of source records at or after those offsets.
func assertMirroredFrom(t *testing.T, pair *kafkatest.Pair, src, tgt string, from map[int32]int64) int {
	t.Helper()
	want := since(pair.Source.ConsumeAll(t, src), from)
	assertRecords(t, pair, tgt, want, true)
	return len(want)
}

// since returns the records at or after offset from[partition].
func since(rs []*kgo.Record, from map[int32]int64) []*kgo.Record {
	var out []*kgo.Record
	for _, r := range rs {
		if r.Offset >= from[r.Partition] {
			out = append(out, r)
		}
	}
	return out
}

// assertRecords checks that target topic tgt holds exactly the copies of
// want (source records), partition by partition, in order.
func assertRecords(t *testing.T, pair *kafkatest.Pair, tgt string, want []*kgo.Record, tracing bool) {
	t.Helper()
	got := pair.Target.ConsumeAll(t, tgt)
	wp, gp := byPartition(want), byPartition(got)
	for p, ws := range wp {
		gs := gp[p]
		if len(gs) != len(ws) {
			t.Errorf("%s partition %d: %d records on the target, want %d", tgt, p, len(gs), len(ws))
			continue
		}
		for i := range ws {
			if d := diff(ws[i], gs[i], pair.Source.ID, tracing); d != "" {
				t.Errorf("%s partition %d record %d (source offset %d): %s", tgt, p, i, ws[i].Offset, d)
				break
			}
		}
	}
	for p, gs := range gp {
		if _, ok := wp[p]; !ok {
			t.Errorf("%s partition %d: %d records on the target, want none", tgt, p, len(gs))
		}
	}
}

func byPartition(rs []*kgo.Record) map[int32][]*kgo.Record {
	m := map[int32][]*kgo.Record{}
	for _, r := range rs {
		m[r.Partition] = append(m[r.Partition], r)
	}
	return m
}

func diff(w, g *kgo.Record, srcID string, tracing bool) string {
	switch {
	case !bytes.Equal(w.Key, g.Key) || (w.Key == nil) != (g.Key == nil):
		return fmt.Sprintf("key %q, want %q", g.Key, w.Key)
	case !bytes.Equal(w.Value, g.Value) || (w.Value == nil) != (g.Value == nil):
		return fmt.Sprintf("value %.40q, want %.40q", g.Value, w.Value)
	case !w.Timestamp.Equal(g.Timestamp):
		return fmt.Sprintf("timestamp %v, want %v", g.Timestamp, w.Timestamp)
	case !slices.EqualFunc(trace.Strip(w.Headers), trace.Strip(g.Headers), headerEqual):
		return fmt.Sprintf("headers %v, want %v", g.Headers, w.Headers)
	}
	o, ok, err := trace.Find(g.Headers)
	if ok != tracing || err != nil {
		return fmt.Sprintf("tracing header present %v (err %v), want %v", ok, err, tracing)
	}
	if tracing && (o.ClusterID != srcID || o.Topic != w.Topic || o.Partition != w.Partition || o.Offset != w.Offset || o.Timestamp != w.Timestamp.UnixMilli()) {
		return fmt.Sprintf("tracing header %v, want %s/%s/%d@%d", o, srcID, w.Topic, w.Partition, w.Offset)
	}
	return ""
}

func headerEqual(a, b kgo.RecordHeader) bool {
	return a.Key == b.Key && bytes.Equal(a.Value, b.Value) && (a.Value == nil) == (b.Value == nil)
}

// rec builds a record for topic "orders" partition p.
func rec(p int32, key, value string, ts time.Time, headers ...string) *kgo.Record {
	r := &kgo.Record{Topic: "orders", Partition: p, Timestamp: ts}
	if key != "" {
		r.Key = []byte(key)
	}
	if value != "\x00tombstone" {
		r.Value = []byte(value)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return r
}

// noRetention keeps kfake from deleting records with old timestamps.
var noRetention = map[string]string{"retention.ms": "-1"}

// newPair starts a one-broker source and target: the tests in this package
// do not depend on the number of brokers, and the machines are small.
func newPair(t *testing.T) *kafkatest.Pair {
	t.Helper()
	return kafkatest.NewPair(t, kafkatest.Brokers(1))
}

// createTopic creates topic with n partitions on both clusters, with cfg
// (and no retention) on the source and no retention on the target.
func createTopic(t *testing.T, pair *kafkatest.Pair, topic string, n int32, cfg map[string]string) {
	t.Helper()
	srcCfg := maps.Clone(noRetention)
	maps.Copy(srcCfg, cfg)
	pair.Source.CreateTopic(t, topic, n, srcCfg)
	pair.Target.CreateTopic(t, topic, n, noRetention)
}

// options returns the Options newMirror uses, for tests that change some.
func options(t *testing.T, pair *kafkatest.Pair, name string, settings config.Mirror, topics ...string) mirror.Options {
	t.Helper()
	var ts []mirror.Topic
	for _, tp := range topics {
		ts = append(ts, mirror.Topic{Source: tp, Target: tp})
	}
	return mirror.Options{
		Name: name, Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID,
		Topics: ts, Groups: selectAll(t), Settings: settings, StateReplicationFactor: -1,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func mustNew(t *testing.T, opts mirror.Options) *mirror.Mirror {
	t.Helper()
	m, err := mirror.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runErr runs m for at most timeout and returns Run's error; it fails the
// test if Run did not return in time.
func runErr(t *testing.T, m *mirror.Mirror, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	err := m.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("Run did not finish within %v (returned %v); stats %+v", timeout, err, m.Stats())
	}
	return err
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

// endOffsets returns the end offsets (high watermarks) of topic's
// partitions on c.
func endOffsets(t *testing.T, c *kafkatest.Cluster, topic string) map[int32]int64 {
	t.Helper()
	return listed(t, c, topic, func(ctx context.Context, adm *kadm.Client) (kadm.ListedOffsets, error) {
		return adm.ListEndOffsets(ctx, topic)
	})
}

func listed(t *testing.T, c *kafkatest.Cluster, topic string, list func(context.Context, *kadm.Client) (kadm.ListedOffsets, error)) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	lo, err := list(ctx, c.Admin(t))
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("list offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// deleteRecords deletes the records of topic on c below offsets[p].
func deleteRecords(t *testing.T, c *kafkatest.Cluster, topic string, offsets map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var os kadm.Offsets
	for p, o := range offsets {
		os.AddOffset(topic, p, o, -1)
	}
	resp, err := c.Admin(t).DeleteRecords(ctx, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("delete records of %s: %v", topic, err)
	}
}

// assertExactlyOnce checks, by tracing header, that every record of want
// (source records) has exactly one copy on target topic tgt and that the
// target holds nothing else, as read_committed consumers see it (copies in
// aborted transactions do not count: nobody reads them).
func assertExactlyOnce(t *testing.T, pair *kafkatest.Pair, tgt string, want []*kgo.Record) {
	t.Helper()
	type key struct {
		topic     string
		partition int32
		offset    int64
	}
	copies := map[key]int{}
	for _, r := range pair.Target.ConsumeAll(t, tgt) {
		o, ok, err := trace.Find(r.Headers)
		if !ok || err != nil {
			t.Errorf("%s/%d@%d: no valid tracing header (%v)", tgt, r.Partition, r.Offset, err)
			continue
		}
		copies[key{o.Topic, o.Partition, o.Offset}]++
	}
	var missing, dups int
	for _, r := range want {
		k := key{r.Topic, r.Partition, r.Offset}
		switch n := copies[k]; {
		case n == 0:
			if missing++; missing <= 5 {
				t.Errorf("source %s/%d@%d: no copy on the target", r.Topic, r.Partition, r.Offset)
			}
		case n > 1:
			if dups++; dups <= 5 {
				t.Errorf("source %s/%d@%d: %d copies on the target", r.Topic, r.Partition, r.Offset, n)
			}
		}
		delete(copies, k)
	}
	if missing+dups > 0 {
		t.Errorf("%d source records missing on the target, %d duplicated", missing, dups)
	}
	for k, n := range copies {
		t.Errorf("target holds %d copies of %s/%d@%d, which is not a record to copy", n, k.topic, k.partition, k.offset)
	}
}

// assertState checks the state migration name keeps for source topic src
// copied to tgt after a completed bounded copy: for each source partition,
// the checkpoint's Next is the source end offset, Records counts the
// partition's records on the target, TargetNext is the target end offset
// less the last commit marker (exactly once) or the end offset itself (at
// least once), and the offset map translates the source offset of every
// target record (from its tracing header) to exactly that record.
func assertState(t *testing.T, pair *kafkatest.Pair, name, src, tgt string, exactly bool) *state.Snapshot {
	t.Helper()
	snap := loadState(t, pair, name)
	srcEnds := endOffsets(t, pair.Source, src)
	tgtEnds := endOffsets(t, pair.Target, tgt)
	got := byPartition(pair.Target.ConsumeAll(t, tgt))
	for p, end := range srcEnds {
		tp := state.TopicPartition{Topic: src, Partition: p}
		c, ok := snap.Checkpoints[tp]
		if !ok {
			t.Errorf("%s: no checkpoint", tp)
			continue
		}
		recs := got[p]
		if c.Next != end || c.Records != int64(len(recs)) {
			t.Errorf("%s: checkpoint next %d records %d, want %d %d", tp, c.Next, c.Records, end, len(recs))
		}
		if len(recs) == 0 {
			continue
		}
		wantTargetNext := tgtEnds[p]
		if exactly {
			wantTargetNext-- // the commit marker of the last transaction
		}
		if c.TargetNext != wantTargetNext {
			t.Errorf("%s: checkpoint target next %d, want %d (target end offset %d)", tp, c.TargetNext, wantTargetNext, tgtEnds[p])
		}
		m := offsetMap(t, snap, tp)
		if m.Records() != int64(len(recs)) {
			t.Errorf("%s: offset map maps %d records, want %d", tp, m.Records(), len(recs))
		}
		for _, r := range recs {
			o, _, err := trace.Find(r.Headers)
			if err != nil {
				t.Fatalf("%s/%d@%d: %v", tgt, p, r.Offset, err)
			}
			if to, exact, ok := m.Lookup(o.Offset); !ok || !exact || to != r.Offset {
				t.Errorf("%s: offset map translates source %d to %d (exact %v), want %d", tp, o.Offset, to, exact, r.Offset)
				break
			}
		}
	}
	return snap
}

// offsetMap decodes the offset map of tp from snap.
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

// checkpoints returns the Next of every checkpoint of topic in snap.
func checkpoints(snap *state.Snapshot, topic string) map[int32]int64 {
	out := map[int32]int64{}
	for tp, c := range snap.Checkpoints {
		if tp.Topic == topic {
			out[tp.Partition] = c.Next
		}
	}
	return out
}

// produceRange produces n records to each of topic's partitions, as
// produceInto does.
func produceRange(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32, first, n int, base time.Time) {
	t.Helper()
	for p := range partitions {
		produceInto(t, c, topic, p, first, n, base)
	}
}

// produceInto produces n records to partition p of topic, record i (from
// first) with key k<p>-<i>, value v<p>-<i> and timestamp base+i seconds.
func produceInto(t *testing.T, c *kafkatest.Cluster, topic string, p int32, first, n int, base time.Time) {
	t.Helper()
	var rs []*kgo.Record
	for i := first; i < first+n; i++ {
		rs = append(rs, &kgo.Record{
			Topic: topic, Partition: p,
			Key:       fmt.Appendf(nil, "k%d-%d", p, i),
			Value:     fmt.Appendf(nil, "v%d-%d", p, i),
			Timestamp: base.Add(time.Duration(i) * time.Second),
		})
	}
	c.Produce(t, rs...)
}
