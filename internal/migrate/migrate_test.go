package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/trace"
)

func testConfig(t *testing.T, pair *kafkatest.Pair) *config.Config {
	t.Helper()
	return pair.Config(t, "") // the default name for the pair
}

// newRunner opens the migration cfg describes and builds its Runner.
func newRunner(t *testing.T, cfg *config.Config) (*migration.Handle, *migrate.Runner) {
	t.Helper()
	h, err := migration.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	r, err := migrate.New(t.Context(), h, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return h, r
}

func produce(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: fmt.Appendf(nil, "%s-%d", topic, i)})
	}
	// A fresh client each time: partitions are added during the test.
	if err := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or 20s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestContinuousMirrorFollowsTheSource checks that while mirroring
// continuously, a partition added on the source, a config changed on the
// source and a new source topic all reach the target, and the records of
// the new partition and topic are copied.
func TestContinuousMirrorFollowsTheSource(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "604800000"})
	produce(t, pair.Source, "orders", 2, 100)
	cfg := testConfig(t, pair)
	_, r := newRunner(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	srcAdm, tgtAdm := pair.Source.Admin(t), pair.Target.Admin(t)
	// Records of topic on the target; -1 while the mirror has not created
	// it yet (reading a missing topic fails the test).
	count := func(topic string) int {
		md, err := tgtAdm.Metadata(t.Context(), topic)
		if err != nil || md.Topics[topic].Err != nil {
			return -1
		}
		return len(pair.Target.ConsumeAll(t, topic))
	}
	waitFor(t, "the first 100 records", func() bool { return count("orders") == 100 })

	if _, err := srcAdm.CreatePartitions(t.Context(), 1, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := srcAdm.AlterTopicConfigs(t.Context(), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("86400000")}}, "orders"); err != nil {
		t.Fatal(err)
	}
	pair.Source.CreateTopic(t, "payments", 1, nil)
	produce(t, pair.Source, "orders", 3, 30) // 10 into the new partition 2
	produce(t, pair.Source, "payments", 1, 7)

	waitFor(t, "partition 2 on the target", func() bool {
		md, err := tgtAdm.Metadata(t.Context(), "orders")
		return err == nil && len(md.Topics["orders"].Partitions) == 3
	})
	waitFor(t, "130 orders records", func() bool { return count("orders") == 130 })
	waitFor(t, "7 payments records", func() bool { return count("payments") == 7 })
	waitFor(t, "retention.ms copied", func() bool {
		rcs, err := tgtAdm.DescribeTopicConfigs(t.Context(), "orders")
		if err != nil {
			return false
		}
		for _, c := range rcs[0].Configs {
			if c.Key == "retention.ms" && c.Value != nil {
				return *c.Value == "86400000"
			}
		}
		return false
	})
	var inP2 int
	for _, r := range pair.Target.ConsumeAll(t, "orders") {
		if r.Partition == 2 {
			inP2++
			if !strings.HasPrefix(string(r.Value), "orders-") {
				t.Errorf("unexpected record in partition 2: %q", r.Value)
			}
		}
	}
	if inP2 != 10 {
		t.Errorf("partition 2 holds %d records on the target, want 10", inP2)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if st := r.Stats(); st.Records != 137 {
		t.Errorf("copied %d records, want 137", st.Records)
	}
}

func TestDefaultNameIsStable(t *testing.T) {
	a, b := migration.DefaultName("src-id", "tgt-id"), migration.DefaultName("src-id", "tgt-id")
	if a != b || a != migration.DefaultName("src-id", "tgt-id") || a == migration.DefaultName("tgt-id", "src-id") {
		t.Errorf("names %q %q: want stable and direction-sensitive", a, b)
	}
	if a != "m-"+a[2:] || len(a) != 14 {
		t.Errorf("name %q: want m- and 12 hex digits", a)
	}
}

// TestContinuousMirrorSyncsGroups checks that Run syncs the committed
// offsets of a source group to the target while mirroring continuously.
func TestContinuousMirrorSyncsGroups(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	produce(t, pair.Source, "orders", 1, 50)
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 20}})
	cfg := testConfig(t, pair)
	cfg.Groups.Sync, cfg.Groups.SyncInterval = true, config.MinGroupSyncInterval
	_, r := newRunner(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	copyOf := func(o int64) int64 {
		for _, r := range pair.Target.ConsumeAll(t, "orders") {
			if h, ok, _ := trace.Find(r.Headers); ok && h.Offset == o {
				return r.Offset
			}
		}
		return -2
	}
	target := func() int64 {
		o, ok := pair.Target.CommittedOffsets(t, "app")["orders"][0]
		if !ok {
			return -1
		}
		return o
	}
	waitFor(t, "the group's offset on the target", func() bool { return target() >= 0 && target() == copyOf(20) })
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 35}})
	waitFor(t, "the group's new offset on the target", func() bool { return target() == copyOf(35) })
	st := r.GroupSync().Status()
	if len(st.Groups) != 1 || st.Groups[0].Group != "app" || st.Groups[0].State != groups.SyncSyncing || st.Groups[0].Commits != 2 {
		t.Errorf("sync status %+v", st)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
}

// TestReverseMirror: after a forward migration and native writes on the
// new cluster, mirroring back (source and target swapped) copies exactly
// the native records into the old cluster's topic, never the copies; and
// mirroring forward again copies nothing back: no record loops.
func TestReverseMirror(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1"})
	produce(t, pair.Source, "orders", 2, 40)
	run := func(src, tgt *kafkatest.Cluster) {
		t.Helper()
		cfg := testConfig(t, pair)
		cfg.Source, cfg.Target = src.Config, tgt.Config
		cfg.Mirror.Until = config.UntilEnd
		_, r := newRunner(t, cfg)
		if p := r.Problems(); len(p) > 0 {
			t.Fatalf("problems: %q", p)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	values := func(c *kafkatest.Cluster) []string {
		var out []string
		for _, r := range c.ConsumeAll(t, "orders") {
			out = append(out, string(r.Value))
		}
		slices.Sort(out)
		return out
	}
	run(pair.Source, pair.Target) // forward: old -> new
	var natives []*kgo.Record     // producers switched: native writes on the new cluster
	for i := range 10 {
		natives = append(natives, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: fmt.Appendf(nil, "native-%d", i)})
	}
	pair.Target.Produce(t, natives...)

	run(pair.Target, pair.Source) // back: new -> old
	run(pair.Source, pair.Target) // forward again: nothing new to copy

	old, cur := values(pair.Source), values(pair.Target)
	if len(old) != 50 || len(cur) != 50 || !slices.Equal(old, cur) || !slices.Contains(old, "native-9") || slices.Compact(slices.Clone(old)) == nil {
		t.Errorf("old cluster holds %d records, new %d; want the same 50 on both (no loop, no loss)", len(old), len(cur))
	}
	if len(slices.Compact(slices.Clone(old))) != 50 {
		t.Errorf("duplicates on the old cluster: %q", old)
	}
}
