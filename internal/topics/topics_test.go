package topics_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/topics"
)

// env is a source and target cluster with admin clients.
type env struct {
	pair     *kafkatest.Pair
	src, tgt *kadm.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	p := kafkatest.NewPair(t)
	return &env{pair: p, src: p.Source.Admin(t), tgt: p.Target.Admin(t)}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// produce writes n records to partition 0 of a topic.
func produce(t *testing.T, c *kafkatest.Cluster, topic string, n int) {
	t.Helper()
	var rs []*kgo.Record
	for range n {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte("v")})
	}
	c.Produce(t, rs...)
}

// explicit returns the configs set on a topic itself.
func explicit(t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	m := map[string]string{}
	for _, c := range rc.Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			m[c.Key] = c.MaybeValue()
		}
	}
	return m
}

func partitions(t *testing.T, adm *kadm.Client, topic string) int {
	t.Helper()
	m, err := adm.Metadata(kadm.WithAuthorizedOps(testCtx(t)), topic)
	if err != nil || m.Topics[topic].Err != nil {
		t.Fatalf("metadata %s: %v %v", topic, err, m.Topics[topic].Err)
	}
	return len(m.Topics[topic].Partitions)
}

func ownedSet(names ...string) func(string) bool {
	return func(n string) bool { return slices.Contains(names, n) }
}

func all(t *testing.T) config.Topics {
	return config.Topics{Selection: selection(t, nil, nil)}
}

// summary is the part of a planned topic the tests compare.
type summary struct {
	Source, Target   string
	Action           topics.Action
	Partitions       int32
	TargetPartitions int32
	TargetRecords    int64
	Add              int32
	Reason           string
}

func summarize(p *topics.Plan) []summary {
	var s []summary
	for _, tp := range p.Topics {
		s = append(s, summary{tp.Source, tp.Target, tp.Action, tp.Partitions, tp.TargetPartitions, tp.TargetRecords, tp.PartitionsToAdd(), tp.Reason})
	}
	return s
}

func checkPlan(t *testing.T, p *topics.Plan, want []summary) {
	t.Helper()
	got := summarize(p)
	if len(got) != len(want) {
		t.Fatalf("plan has %d topics, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("topic %d:\ngot  %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

const (
	otherNames = "choose other target names with topics.prefix (--topic-prefix) or topics.rename"
	reuseOff   = "the target topic exists and is empty but topics.reuse_empty is off: set it (or pass --allow-reuse) to reuse the topic, delete the topic, or " + otherNames
)

func TestInspectActions(t *testing.T) {
	e := newEnv(t)
	s, g := e.pair.Source, e.pair.Target
	s.CreateTopic(t, "orders", 3, map[string]string{"retention.ms": "-1", "cleanup.policy": "compact", "confluent.key.schema.validation": "true"})
	s.CreateTopic(t, "resumed", 4, nil)
	g.CreateTopic(t, "resumed", 2, nil)
	s.CreateTopic(t, "ahead", 3, nil)
	g.CreateTopic(t, "ahead", 5, nil)
	s.CreateTopic(t, "full", 2, nil)
	g.CreateTopic(t, "full", 2, nil)
	produce(t, g, "full", 3)
	s.CreateTopic(t, "empty", 2, nil)
	g.CreateTopic(t, "empty", 2, nil)
	s.CreateTopic(t, "mismatch", 3, nil)
	g.CreateTopic(t, "mismatch", 2, nil)
	s.CreateTopic(t, "purged", 1, nil)
	g.CreateTopic(t, "purged", 1, nil)
	produce(t, g, "purged", 4)
	var purge kadm.Offsets
	purge.AddOffset("purged", 0, 4, -1)
	if _, err := e.tgt.DeleteRecords(testCtx(t), purge); err != nil {
		t.Fatal(err)
	}
	s.CreateTopic(t, "_schemas", 1, nil)
	s.CreateTopic(t, "hidden", 1, map[string]string{"kfake.is_internal": "true"})
	s.CreateTopic(t, "__kmigrate-state-x", 1, nil)

	owned := ownedSet("resumed", "ahead")
	plan, err := topics.Inspect(testCtx(t), e.src, e.tgt, all(t), owned)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, plan, []summary{
		{"ahead", "ahead", topics.Conflict, 3, 5, 0, 0, "this migration's target topic has 5 partitions but the source has 3: was the source topic deleted and re-created? Records must keep their partition, so delete the target topic and migrate it again"},
		{"empty", "empty", topics.Conflict, 2, 2, 0, 0, reuseOff},
		{"full", "full", topics.Conflict, 2, 2, 3, 0, "the target topic already exists with up to 3 records and is not this migration's mirror: delete it, or " + otherNames},
		{"mismatch", "mismatch", topics.Conflict, 3, 2, 0, 0, "the target topic exists and is empty, but has 2 partitions where the source has 3: records must keep their partition; delete it, or " + otherNames},
		{"orders", "orders", topics.Create, 3, 0, 0, 0, ""},
		{"purged", "purged", topics.Conflict, 1, 1, 0, 0, reuseOff},
		{"resumed", "resumed", topics.Resume, 4, 2, 0, 2, ""},
	})
	orders := plan.Topics[4]
	if want := map[string]string{"retention.ms": "-1", "cleanup.policy": "compact"}; !reflect.DeepEqual(orders.Configs, want) {
		t.Errorf("orders configs = %v, want %v", orders.Configs, want)
	}
	wantDropped := []topics.Dropped{{"confluent.key.schema.validation", "true", "vendor-specific (confluent.*): copy it with topics.configs.include if the target supports it"}}
	if !reflect.DeepEqual(orders.Dropped, wantDropped) {
		t.Errorf("orders dropped = %q, want %q", orders.Dropped, wantDropped)
	}
	wantExcluded := []topics.Excluded{
		{"__kmigrate-state-x", "kmigrate's own state: never migrated"},
		{"_schemas", "Schema Registry's storage: internal topics are migrated only when topics.include names them exactly"},
		{"hidden", "flagged internal by the source cluster: internal topics are migrated only when topics.include names them exactly"},
	}
	if !reflect.DeepEqual(plan.Excluded, wantExcluded) {
		t.Errorf("excluded:\ngot  %q\nwant %q", plan.Excluded, wantExcluded)
	}
	wantConflicts := []string{
		`topic "ahead" -> "ahead": ` + plan.Topics[0].Reason,
		`topic "empty" -> "empty": ` + reuseOff,
		`topic "full" -> "full": ` + plan.Topics[2].Reason,
		`topic "mismatch" -> "mismatch": ` + plan.Topics[3].Reason,
		`topic "purged" -> "purged": ` + reuseOff,
	}
	if got := plan.Conflicts(); !slices.Equal(got, wantConflicts) {
		t.Errorf("conflicts:\ngot  %q\nwant %q", got, wantConflicts)
	}
	if got, want := plan.Mappings(), []topics.Mapping{{"orders", "orders"}, {"resumed", "resumed"}}; !slices.Equal(got, want) {
		t.Errorf("mappings = %v, want %v", got, want)
	}

	// With reuse allowed, the empty topics (never written, or written and
	// purged) are reused; the others do not change.
	reuse := all(t)
	reuse.ReuseEmpty = true
	plan, err = topics.Inspect(testCtx(t), e.src, e.tgt, reuse, owned)
	if err != nil {
		t.Fatal(err)
	}
	got := summarize(plan)
	if got[1].Action != topics.Reuse || got[5].Action != topics.Reuse || got[1].Reason != "" {
		t.Errorf("with reuse: empty %+v, purged %+v", got[1], got[5])
	}
	if got[3].Action != topics.Conflict || got[2].Action != topics.Conflict {
		t.Errorf("with reuse: mismatch %+v, full %+v", got[3], got[2])
	}

	// Nothing was written to either cluster.
	if n := partitions(t, e.tgt, "resumed"); n != 2 {
		t.Errorf("Inspect changed the target: resumed has %d partitions", n)
	}
	if m, _ := e.tgt.Metadata(kadm.WithAuthorizedOps(testCtx(t)), "orders"); m.Topics["orders"].Err == nil {
		t.Error("Inspect created orders on the target")
	}
}

func TestInspectNaming(t *testing.T) {
	e := newEnv(t)
	e.pair.Source.CreateTopic(t, "orders", 1, nil)
	e.pair.Source.CreateTopic(t, "payments", 1, nil)
	e.pair.Target.CreateTopic(t, "old_orders", 1, nil)

	tp := all(t)
	tp.Prefix = "old."
	plan, err := topics.Inspect(testCtx(t), e.src, e.tgt, tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, plan, []summary{
		{"orders", "old.orders", topics.Conflict, 1, 0, 0, 0, `the target name collides with the topic "old_orders": Kafka refuses names that differ only in '.' and '_'; change topics.prefix or topics.rename`},
		{"payments", "old.payments", topics.Create, 1, 0, 0, 0, ""},
	})

	tp = all(t)
	tp.Rename = strings.Repeat("x", 243) + ".{topic}"
	plan, err = topics.Inspect(testCtx(t), e.src, e.tgt, tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 243) + ".orders"
	checkPlan(t, plan, []summary{
		{"orders", long, topics.Conflict, 1, 0, 0, 0, `the target name is not legal: topic name "` + long + `" is 250 characters long: Kafka allows 249: change topics.prefix or topics.rename`},
		{"payments", strings.Repeat("x", 243) + ".payments", topics.Conflict, 1, 0, 0, 0, plan.Topics[1].Reason},
	})
}

func TestInspectTargetRefuses(t *testing.T) {
	e := newEnv(t)
	e.pair.Source.CreateTopic(t, "orders", 2, nil)
	e.pair.Source.CreateTopic(t, "strict", 1, map[string]string{"min.insync.replicas": "3"})

	tp := all(t)
	tp.ReplicationFactor = 5 // the target has 3 brokers
	plan, err := topics.Inspect(testCtx(t), e.src, e.tgt, tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range plan.Topics {
		if want := "the target would refuse to create the topic: INVALID_REPLICATION_FACTOR: "; got.Action != topics.Conflict || !strings.HasPrefix(got.Reason, want) {
			t.Errorf("%s: %s %q, want a conflict starting %q", got.Source, got.Action, got.Reason, want)
		}
	}

	tp.ReplicationFactor = 2
	plan, err = topics.Inspect(testCtx(t), e.src, e.tgt, tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, plan, []summary{
		{"orders", "orders", topics.Create, 2, 0, 0, 0, ""},
		{"strict", "strict", topics.Conflict, 1, 0, 0, 0, "min.insync.replicas=3 is copied but the target topic would have 2 replicas: every write would fail; set topics.replication_factor to at least 3, or exclude min.insync.replicas with topics.configs.exclude"},
	})
}

func TestInspectWarnings(t *testing.T) {
	e := newEnv(t)
	e.pair.Source.CreateTopic(t, "stamped", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	e.pair.Source.CreateTopic(t, "limited", 1, nil)
	e.pair.Target.CreateTopic(t, "limited", 1, map[string]string{"message.timestamp.before.max.ms": "3600000"})
	e.pair.Source.CreateTopic(t, "appended", 1, nil)
	e.pair.Target.CreateTopic(t, "appended", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})

	tp := all(t)
	tp.ReuseEmpty = true
	tp.ReplicationFactor = 3
	plan, err := topics.Inspect(testCtx(t), e.src, e.tgt, tp, ownedSet("appended"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(want map[string][]string) {
		t.Helper()
		for _, tp := range plan.Topics {
			if tp.Action == topics.Conflict {
				t.Errorf("%s: conflict %s", tp.Source, tp.Reason)
			}
			if !slices.Equal(tp.Warnings, want[tp.Source]) {
				t.Errorf("%s warnings:\ngot  %q\nwant %q", tp.Source, tp.Warnings, want[tp.Source])
			}
		}
	}
	// appended's LogAppendTime is set on the target topic, for a config
	// kmigrate manages and the source does not set: SyncConfigs will
	// delete it, so there is nothing to warn about. The timestamp limit
	// is not managed by default: it stays, and will reject old records.
	check(map[string][]string{
		"limited": {"the target topic has message.timestamp.before.max.ms=3600000: it will reject mirrored records with timestamps more than 1h0m0s old; raise it on the target before mirroring older data"},
		"stamped": {"message.timestamp.type=LogAppendTime is copied: the target will stamp mirrored records with its own append time instead of keeping the source's timestamps; to keep them, exclude it with topics.configs.exclude and set it on the target after cutover"},
	})

	// The other way round: the timestamp type is left alone, the limit
	// is managed (and deleted by Apply, leaving the broker's default).
	tp.ConfigsExclude = []string{"message.timestamp.type"}
	tp.ConfigsInclude = []string{"message.timestamp.before.max.ms"}
	plan, err = topics.Inspect(testCtx(t), e.src, e.tgt, tp, ownedSet("appended"))
	if err != nil {
		t.Fatal(err)
	}
	check(map[string][]string{
		"appended": {"the target topic has message.timestamp.type=LogAppendTime: mirrored records will carry the target's append time, not the source's timestamps"},
	})
}

func TestApplyCreatesThenResumes(t *testing.T) {
	e := newEnv(t)
	srcConfigs := map[string]string{
		"retention.ms": "-1", "cleanup.policy": "compact,delete", "max.message.bytes": "2000000",
		"segment.ms": "3600000", "leader.replication.throttled.replicas": "*", "some.plugin.setting": "x",
	}
	e.pair.Source.CreateTopic(t, "orders", 3, srcConfigs)
	e.pair.Source.CreateTopic(t, "payments", 1, nil)

	tp := all(t)
	tp.Prefix = "old."
	tp.ReplicationFactor = 2
	plan, err := topics.Inspect(testCtx(t), e.src, e.tgt, tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := topics.Apply(testCtx(t), e.tgt, plan)
	if err != nil {
		t.Fatal(err)
	}
	want := []topics.Applied{
		{Source: "orders", Target: "old.orders", Action: topics.Create, Partitions: 3, AddedFrom: 0},
		{Source: "payments", Target: "old.payments", Action: topics.Create, Partitions: 1, AddedFrom: 0},
	}
	if !reflect.DeepEqual(applied, want) {
		t.Errorf("applied:\ngot  %+v\nwant %+v", applied, want)
	}
	wantConfigs := map[string]string{"retention.ms": "-1", "cleanup.policy": "compact,delete", "max.message.bytes": "2000000", "segment.ms": "3600000"}
	if got := explicit(t, e.tgt, "old.orders"); !reflect.DeepEqual(got, wantConfigs) {
		t.Errorf("target configs:\ngot  %v\nwant %v", got, wantConfigs)
	}
	if got := explicit(t, e.tgt, "old.payments"); len(got) != 0 {
		t.Errorf("payments configs = %v, want none", got)
	}
	m, err := e.tgt.Metadata(kadm.WithAuthorizedOps(testCtx(t)), "old.orders")
	if err != nil {
		t.Fatal(err)
	}
	if td := m.Topics["old.orders"]; len(td.Partitions) != 3 || td.Partitions.NumReplicas() != 2 {
		t.Errorf("old.orders: %d partitions, %d replicas; want 3, 2", len(td.Partitions), td.Partitions.NumReplicas())
	}

	// Inspected again as this migration's own topics, they are resumed;
	// as someone else's, they are empty topics that need reuse_empty.
	plan, err = topics.Inspect(testCtx(t), e.src, e.tgt, tp, ownedSet("old.orders", "old.payments"))
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, plan, []summary{
		{"orders", "old.orders", topics.Resume, 3, 3, 0, 0, ""},
		{"payments", "old.payments", topics.Resume, 1, 1, 0, 0, ""},
	})
	applied, err = topics.Apply(testCtx(t), e.tgt, plan)
	if err != nil {
		t.Fatal(err)
	}
	want[0].Action, want[0].AddedFrom = topics.Resume, 3
	want[1].Action, want[1].AddedFrom = topics.Resume, 1
	if !reflect.DeepEqual(applied, want) {
		t.Errorf("applied again:\ngot  %+v\nwant %+v", applied, want)
	}
	plan, err = topics.Inspect(testCtx(t), e.src, e.tgt, tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, plan, []summary{
		{"orders", "old.orders", topics.Conflict, 3, 3, 0, 0, reuseOff},
		{"payments", "old.payments", topics.Conflict, 1, 1, 0, 0, reuseOff},
	})
	if _, err := topics.Apply(testCtx(t), e.tgt, plan); !errors.Is(err, topics.ErrConflicts) {
		t.Errorf("Apply with conflicts: %v, want ErrConflicts", err)
	}
}

func TestApplyResumeAddsPartitionsAndReuseSetsConfigs(t *testing.T) {
	e := newEnv(t)
	s, g := e.pair.Source, e.pair.Target
	s.CreateTopic(t, "grown", 5, nil)
	g.CreateTopic(t, "grown", 2, nil)
	s.CreateTopic(t, "reused", 2, map[string]string{"retention.ms": "-1", "cleanup.policy": "compact"})
	g.CreateTopic(t, "reused", 2, map[string]string{"retention.ms": "1000", "segment.ms": "5000", "cleanup.policy": "compact", "custom.setting": "kept"})

	tp := all(t)
	tp.ReuseEmpty = true
	plan, err := topics.Inspect(testCtx(t), e.src, e.tgt, tp, ownedSet("grown"))
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, plan, []summary{
		{"grown", "grown", topics.Resume, 5, 2, 0, 3, ""},
		{"reused", "reused", topics.Reuse, 2, 2, 0, 0, ""},
	})
	applied, err := topics.Apply(testCtx(t), e.tgt, plan)
	if err != nil {
		t.Fatal(err)
	}
	want := []topics.Applied{
		{Source: "grown", Target: "grown", Action: topics.Resume, Partitions: 5, AddedFrom: 2},
		{Source: "reused", Target: "reused", Action: topics.Reuse, Partitions: 2, AddedFrom: 2,
			ConfigsSet: map[string]string{"retention.ms": "-1"}, ConfigsDeleted: []string{"segment.ms"}},
	}
	if !reflect.DeepEqual(applied, want) {
		t.Errorf("applied:\ngot  %+v\nwant %+v", applied, want)
	}
	if n := partitions(t, e.tgt, "grown"); n != 5 {
		t.Errorf("grown has %d partitions, want 5", n)
	}
	// custom.setting is not kmigrate's to manage: it stays.
	wantConfigs := map[string]string{"retention.ms": "-1", "cleanup.policy": "compact", "custom.setting": "kept"}
	if got := explicit(t, e.tgt, "reused"); !reflect.DeepEqual(got, wantConfigs) {
		t.Errorf("reused configs:\ngot  %v\nwant %v", got, wantConfigs)
	}
}

func TestApplyAfterConcurrentCreate(t *testing.T) {
	e := newEnv(t)
	e.pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1"})
	e.pair.Source.CreateTopic(t, "payments", 1, nil)
	plan, err := topics.Inspect(testCtx(t), e.src, e.tgt, all(t), ownedSet("orders"))
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, plan, []summary{
		{"orders", "orders", topics.Create, 2, 0, 0, 0, ""},
		{"payments", "payments", topics.Create, 1, 0, 0, 0, ""},
	})
	// Between Inspect and Apply, another run of this migration creates
	// orders (with one partition: the source has since grown, say), and
	// someone else creates payments and writes to it.
	e.pair.Target.CreateTopic(t, "orders", 1, nil)
	e.pair.Target.CreateTopic(t, "payments", 1, nil)
	produce(t, e.pair.Target, "payments", 1)

	applied, err := topics.Apply(testCtx(t), e.tgt, plan)
	wantErr := `target topic "payments": it was created by someone else since the plan was made: the target topic already exists with up to 1 records and is not this migration's mirror: delete it, or ` + otherNames
	if err == nil || err.Error() != wantErr {
		t.Fatalf("error:\ngot  %v\nwant %s", err, wantErr)
	}
	if applied[0].Err != nil || applied[0].Action != topics.Resume || applied[0].AddedFrom != 1 || applied[0].Partitions != 2 {
		t.Errorf("orders: %+v, want resumed from 1 to 2 partitions", applied[0])
	}
	if n := partitions(t, e.tgt, "orders"); n != 2 {
		t.Errorf("orders has %d partitions, want 2", n)
	}
}

func TestSyncPartitions(t *testing.T) {
	e := newEnv(t)
	e.pair.Source.CreateTopic(t, "orders", 2, nil)
	e.pair.Source.CreateTopic(t, "payments", 1, nil)
	tp := all(t)
	tp.Prefix = "m."
	plan, err := topics.Inspect(testCtx(t), e.src, e.tgt, tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topics.Apply(testCtx(t), e.tgt, plan); err != nil {
		t.Fatal(err)
	}
	ms := plan.Mappings()
	added, err := topics.SyncPartitions(testCtx(t), e.src, e.tgt, ms)
	if err != nil || added != nil {
		t.Fatalf("in step: %v, %v; want nothing", added, err)
	}

	if _, err := e.src.UpdatePartitions(testCtx(t), 5, "orders"); err != nil {
		t.Fatal(err)
	}
	added, err = topics.SyncPartitions(testCtx(t), e.src, e.tgt, ms)
	if err != nil {
		t.Fatal(err)
	}
	if want := []topics.PartitionsAdded{{Source: "orders", Target: "m.orders", From: 2, To: 5}}; !reflect.DeepEqual(added, want) {
		t.Errorf("added = %+v, want %+v", added, want)
	}
	if n := partitions(t, e.tgt, "m.orders"); n != 5 {
		t.Errorf("m.orders has %d partitions, want 5", n)
	}
	if added, err = topics.SyncPartitions(testCtx(t), e.src, e.tgt, ms); err != nil || added != nil {
		t.Errorf("second sync: %v, %v; want nothing", added, err)
	}

	// The target ahead of the source, or a missing topic, is an error
	// for that topic only.
	if _, err := e.tgt.UpdatePartitions(testCtx(t), 3, "m.payments"); err != nil {
		t.Fatal(err)
	}
	ms = append(ms, topics.Mapping{Source: "gone", Target: "m.gone"})
	added, err = topics.SyncPartitions(testCtx(t), e.src, e.tgt, ms)
	want := `source topic "gone": UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.` + "\n" +
		`target topic "m.payments" has 3 partitions but source topic "payments" has 1: was the source topic deleted and re-created?`
	if err == nil || err.Error() != want || added != nil {
		t.Errorf("error:\ngot  %v (added %v)\nwant %s", err, added, want)
	}
}

func TestSyncConfigs(t *testing.T) {
	e := newEnv(t)
	e.pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1", "cleanup.policy": "compact", "segment.ms": "60000"})
	e.pair.Source.CreateTopic(t, "payments", 1, map[string]string{"retention.ms": "86400000"})
	tp := all(t)
	tp.ConfigsExclude = []string{"segment.ms"}
	plan, err := topics.Inspect(testCtx(t), e.src, e.tgt, tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topics.Apply(testCtx(t), e.tgt, plan); err != nil {
		t.Fatal(err)
	}
	// A setting made on the target by hand, for a config kmigrate does
	// not manage there (excluded), survives every sync.
	if _, err := e.tgt.AlterTopicConfigs(testCtx(t), []kadm.AlterConfig{{Name: "segment.ms", Value: kadm.StringPtr("1000")}}, "orders"); err != nil {
		t.Fatal(err)
	}
	ms := plan.Mappings()
	changed, err := topics.SyncConfigs(testCtx(t), e.src, e.tgt, tp, ms)
	if err != nil || changed != nil {
		t.Fatalf("in step: %v, %v; want nothing", changed, err)
	}

	// On the source: retention.ms changes, cleanup.policy is removed,
	// max.message.bytes is added, and so is a config kmigrate does not
	// copy.
	if _, err := e.src.AlterTopicConfigs(testCtx(t), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("604800000")},
		{Op: kadm.DeleteConfig, Name: "cleanup.policy"},
		{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("2000000")},
		{Op: kadm.SetConfig, Name: "some.plugin.setting", Value: kadm.StringPtr("x")},
	}, "orders"); err != nil {
		t.Fatal(err)
	}
	changed, err = topics.SyncConfigs(testCtx(t), e.src, e.tgt, tp, ms)
	if err != nil {
		t.Fatal(err)
	}
	want := []topics.ConfigsChanged{{
		Source: "orders", Target: "orders",
		Set:     map[string]string{"retention.ms": "604800000", "max.message.bytes": "2000000"},
		Deleted: []string{"cleanup.policy"},
	}}
	if !reflect.DeepEqual(changed, want) {
		t.Errorf("changed:\ngot  %+v\nwant %+v", changed, want)
	}
	wantConfigs := map[string]string{"retention.ms": "604800000", "max.message.bytes": "2000000", "segment.ms": "1000"}
	if got := explicit(t, e.tgt, "orders"); !reflect.DeepEqual(got, wantConfigs) {
		t.Errorf("target configs:\ngot  %v\nwant %v", got, wantConfigs)
	}
	if got, want := explicit(t, e.tgt, "payments"), map[string]string{"retention.ms": "86400000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("payments configs = %v, want %v", got, want)
	}
	if changed, err = topics.SyncConfigs(testCtx(t), e.src, e.tgt, tp, ms); err != nil || changed != nil {
		t.Errorf("second sync: %v, %v; want nothing", changed, err)
	}
}
