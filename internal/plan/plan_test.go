package plan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/plan"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

var noRetention = map[string]string{"retention.ms": "-1"}

// produce writes n records to topic/p in one batch, with fixed timestamps
// (so that sizes on disk, and the byte estimates, are the same every run).
func produce(t *testing.T, c *kafkatest.Cluster, topic string, p int32, from, n int) {
	t.Helper()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var rs []*kgo.Record
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "value-%d", i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	c.Produce(t, rs...)
}

func config1(t *testing.T, src, tgt *kafkatest.Cluster) *config.Config {
	t.Helper()
	all, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := config.DefaultMirror()
	m.Until = config.UntilEnd
	m.TransactionInterval = 50 * time.Millisecond
	return &config.Config{
		Name: "m1", Source: src.Config, Target: tgt.Config,
		Topics: config.Topics{Selection: all, SyncInterval: config.DefaultSyncInterval},
		Groups: config.Groups{Selection: all, SyncInterval: config.DefaultGroupSyncInterval},
		Mirror: m,
	}
}

// TestPlanGolden plans a migration covering every case: a topic to create,
// one to resume whose source lost records after the last checkpoint (an
// expired range), one in conflict with an existing target topic, a group
// that can be migrated, one active on the target (blocking) and one whose
// only topic is not mirrored. The JSON must equal testdata/plan.golden.json.
func TestPlanGolden(t *testing.T) {
	src := kafkatest.New(t, kafkatest.Role("source"), kafkatest.ClusterID("source-cluster"), kafkatest.Brokers(1))
	tgt := kafkatest.New(t, kafkatest.Role("target"), kafkatest.ClusterID("target-cluster"), kafkatest.Brokers(1))
	src.CreateTopic(t, "payments", 1, noRetention)
	produce(t, src, "payments", 0, 0, 10)
	cfg := config1(t, src, tgt)
	cfg.Topics.Selection, _ = config.NewSelection([]string{"payments"}, nil)
	mirrorOnce(t, cfg)

	// Since the last run: 5 more payments, of which the source lost the
	// first 2 (DeleteRecords) before they were copied.
	produce(t, src, "payments", 0, 10, 5)
	var del kadm.Offsets
	del.AddOffset("payments", 0, 12, -1)
	if resp, err := src.Admin(t).DeleteRecords(t.Context(), del); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}
	src.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1", "cleanup.policy": "delete", "message.timestamp.difference.max.ms": "3600000"})
	produce(t, src, "orders", 0, 0, 7)
	produce(t, src, "orders", 1, 0, 4)
	src.CreateTopic(t, "logs", 1, noRetention)
	produce(t, src, "logs", 0, 0, 3)
	tgt.CreateTopic(t, "logs", 1, noRetention)
	produce(t, tgt, "logs", 0, 0, 2)

	src.CommitOffsets(t, "ready", map[string]map[int32]int64{"payments": {0: 5}})
	src.CommitOffsets(t, "busy", map[string]map[int32]int64{"payments": {0: 10}})
	src.CommitOffsets(t, "loner", map[string]map[int32]int64{"logs": {0: 1}})
	busy := tgt.Client(t, kgo.ConsumerGroup("busy"), kgo.ConsumeTopics("payments"), kgo.DisableAutoCommit())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	busy.PollFetches(ctx)
	cancel()

	cfg = config1(t, src, tgt)
	r, err := makePlan(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The mirror above synced ACLs (nothing to sync) at a time of its own.
	if r.Access == nil || r.Access.Sync == nil || r.Access.Sync.Time.IsZero() {
		t.Fatalf("the plan shows no ACL sync of the mirror: %+v", r.Access)
	}
	r.Access.Sync.Time = time.Time{}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as kmigrate plan --output json prints
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	golden := filepath.Join("testdata", "plan.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("plan differs from %s (run with -update to rewrite, then review the diff):\n%s", golden, got)
	}
	if r.CanRun {
		t.Error("CanRun with a conflict and a group active on the target")
	}
}

// TestPlanSelectedBy: each topic names the include pattern that selected
// it, and a plan with nothing blocking can run.
func TestPlanSelectedBy(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, noRetention)
	pair.Source.CreateTopic(t, "payments.eu", 1, noRetention)
	pair.Source.CreateTopic(t, "audit", 1, noRetention)
	produce(t, pair.Source, "orders", 0, 0, 3)
	cfg := config1(t, pair.Source, pair.Target)
	cfg.Topics.Selection, _ = config.NewSelection([]string{"orders", `payments\..*`}, nil)
	r, err := makePlan(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tp := range r.Topics {
		got = append(got, tp.Source+" "+tp.SelectedBy+" "+string(tp.Action)+fmt.Sprint(" ", tp.Records))
	}
	want := []string{`orders include "orders" create 3`, `payments.eu include "payments\\..*" create 0`}
	if fmt.Sprint(got) != fmt.Sprint(want) || !r.CanRun || len(r.Problems) != 0 || r.State != "none" {
		t.Errorf("topics %q (want %q), can run %v, problems %q, state %s", got, want, r.CanRun, r.Problems, r.State)
	}
	excluded := false
	for _, e := range r.Excluded {
		excluded = excluded || e.Name == "audit"
	}
	if !excluded {
		t.Errorf("audit not listed as excluded: %+v", r.Excluded)
	}
}

// TestPlanUnreachableNatives: records written natively on the target while
// the mirror still had older source records to copy lie before copies a
// group consumed; the plan counts and names them, and the group is not
// migratable without a choice.
func TestPlanUnreachableNatives(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, noRetention)
	cfg := config1(t, pair.Source, pair.Target)
	mirror := func() {
		t.Helper()
		mirrorOnce(t, cfg)
	}
	produce(t, pair.Source, "orders", 0, 0, 5)
	mirror()
	ends, err := pair.Target.Admin(t).ListEndOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	at, _ := ends.Lookup("orders", 0)
	produce(t, pair.Target, "orders", 0, 100, 2) // natives, before the copies of 5..9
	produce(t, pair.Source, "orders", 0, 5, 5)
	mirror()
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 10}})
	pair.Source.CommitOffsets(t, "early", map[string]map[int32]int64{"orders": {0: 3}})

	r, err := makePlan(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Groups) != 2 {
		t.Fatalf("groups %+v", r.Groups)
	}
	app, early := r.Groups[0], r.Groups[1]
	tr := app.Topics[0].Partitions[0].Translation
	want := []groups.NativeRange{{From: at.Offset, To: at.Offset + 2}}
	reason := fmt.Sprintf("2 records written natively on the target in orders/0 (offsets %d-%d) lie before copies the group already consumed: its translated position would never deliver them; choose with kmigrate groups migrate --unreachable-natives=reread or skip", at.Offset, at.Offset+1)
	if tr == nil || tr.Kind != groups.End || tr.Unreachable != 2 || !slices.Equal(tr.UnreachableNatives, want) || app.Migratable || !slices.Equal(app.Reasons, []string{reason}) {
		t.Errorf("app: %+v, reasons %q", tr, app.Reasons)
	}
	// A group that has not consumed past the natives reaches them.
	if tr := early.Topics[0].Partitions[0].Translation; tr == nil || tr.Unreachable != 0 || !early.Migratable {
		t.Errorf("early: %+v, reasons %q", tr, early.Reasons)
	}
}

// mirrorOnce runs the migration cfg describes, as kmigrate mirror does.
func mirrorOnce(t *testing.T, cfg *config.Config) {
	t.Helper()
	h, err := migration.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r, err := migrate.New(t.Context(), h, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// makePlan plans the migration cfg describes, as kmigrate plan does.
func makePlan(t *testing.T, cfg *config.Config) (*plan.Report, error) {
	t.Helper()
	h, err := migration.Open(t.Context(), cfg, nil)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return plan.Make(t.Context(), h)
}
