package preflight_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/preflight"
	"github.com/kmigrate/kmigrate/internal/state"
)

func selectAll(t *testing.T) config.Selection {
	t.Helper()
	s, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func topicACL(name string, op kmsg.ACLOperation) kfake.ACL {
	return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
}

func groupACL(name string, op kmsg.ACLOperation) kfake.ACL {
	return kfake.ACL{Resource: kmsg.ACLResourceTypeGroup, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
}

// TestRunReportsPermissions checks the access report against clusters with
// ACLs: a source user who may read one topic but not its configs, and a
// target user who may not create topics.
func TestRunReportsPermissions(t *testing.T) {
	src := kafkatest.New(t, kafkatest.Brokers(1), kafkatest.Role("source"),
		kafkatest.SASL(config.Plain, "admin", "admin-pw"),
		kafkatest.Kfake(kfake.EnableACLs(), kfake.User("PLAIN", "reader", "reader-pw",
			topicACL("orders", kmsg.ACLOperationDescribe),
			topicACL("orders", kmsg.ACLOperationRead),
			groupACL("app", kmsg.ACLOperationDescribe),
		)))
	tgt := kafkatest.New(t, kafkatest.Brokers(1), kafkatest.Role("target"),
		kafkatest.SASL(config.Plain, "admin", "admin-pw"),
		kafkatest.Kfake(kfake.EnableACLs(), kfake.User("PLAIN", "writer", "writer-pw",
			groupACL("app", kmsg.ACLOperationRead),
		)))
	src.CreateTopic(t, "orders", 2, nil)
	src.CreateTopic(t, "hidden", 1, nil)
	src.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 0}})

	cfg := &config.Config{Source: src.Config, Target: tgt.Config, Topics: config.Topics{Selection: selectAll(t)}, Groups: config.Groups{Selection: selectAll(t)}}
	cfg.Mirror.Guarantee = config.ExactlyOnce
	cfg.Source.SASL = config.SASL{Mechanism: config.Plain, Username: "reader", Password: "reader-pw"}
	cfg.Target.SASL = config.SASL{Mechanism: config.Plain, Username: "writer", Password: "writer-pw"}

	rep, err := preflight.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Source.SelectedTopics, []string{"orders"}) {
		t.Errorf("source selected topics = %v, want [orders] (hidden is not visible to reader)", rep.Source.SelectedTopics)
	}
	if !slices.Equal(rep.Source.SelectedGroups, []string{"app"}) {
		t.Errorf("source selected groups = %v, want [app]", rep.Source.SelectedGroups)
	}
	wantSource := []preflight.Access{
		{What: "describe selected topics", Status: preflight.Yes, Detail: "all 1 selected topics"},
		{What: "read selected topics", Status: preflight.Yes, Detail: "all 1 selected topics"},
		{What: "read selected topic configs", Status: preflight.No, Detail: "denied on orders"},
		{What: "describe selected groups and their offsets", Status: preflight.Yes, Detail: "all 1 selected groups"},
	}
	if !slices.Equal(rep.Source.Access, wantSource) {
		t.Errorf("source access:\n got %+v\nwant %+v", rep.Source.Access, wantSource)
	}
	name := state.DefaultName(src.ID, tgt.ID)
	wantTarget := []preflight.Access{
		{What: "create topics", Status: preflight.No, Detail: "denied on __kmigrate-" + name + ", orders"},
		{What: "idempotent write (cluster)", Status: preflight.No, Optional: true},
		{What: "alter configs (cluster)", Status: preflight.No, Optional: true},
		{What: "commit offsets of selected groups", Status: preflight.Yes, Detail: "all 1 selected groups"},
		{What: "use the transactional id kmigrate-" + name, Status: preflight.No, Detail: "grant WRITE and DESCRIBE on it (or the prefix kmigrate-), or use --guarantee at-least-once"},
	}
	if !slices.Equal(rep.Target.Access, wantTarget) {
		t.Errorf("target access:\n got %+v\nwant %+v", rep.Target.Access, wantTarget)
	}
	wantProblems := []string{
		"source: the credentials may not read selected topic configs (denied on orders)",
		"target: the credentials may not create topics (denied on __kmigrate-" + name + ", orders)",
		"target: the credentials may not use the transactional id kmigrate-" + name + " (grant WRITE and DESCRIBE on it (or the prefix kmigrate-), or use --guarantee at-least-once)",
	}
	if !slices.Equal(rep.Problems, wantProblems) {
		t.Errorf("problems:\n got %q\nwant %q", rep.Problems, wantProblems)
	}
	wantWarnings := []string{
		"target: the credentials may not idempotent write (cluster) (not required on Kafka 3.0 and later)",
		"target: the credentials may not alter configs (cluster) (not required on Kafka 3.0 and later)",
	}
	if !slices.Equal(rep.Warnings, wantWarnings) {
		t.Errorf("warnings:\n got %q\nwant %q", rep.Warnings, wantWarnings)
	}
	if rep.OK() {
		t.Error("OK() = true with problems")
	}
}

// TestRunTopicLevelCreate: a target principal without cluster CREATE but
// with CREATE on the prefixes of the topics a migration creates, and the
// transactional id, may run it; check says so instead of refusing.
func TestRunTopicLevelCreate(t *testing.T) {
	prefixed := func(res kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypePrefixed, Operation: op, Allow: true}
	}
	src := kafkatest.New(t, kafkatest.Brokers(1), kafkatest.Role("source"))
	tgt := kafkatest.New(t, kafkatest.Brokers(1), kafkatest.Role("target"),
		kafkatest.SASL(config.Plain, "admin", "admin-pw"),
		kafkatest.Kfake(kfake.EnableACLs(), kfake.User("PLAIN", "writer", "writer-pw",
			prefixed(kmsg.ACLResourceTypeTopic, "orders", kmsg.ACLOperationCreate),
			prefixed(kmsg.ACLResourceTypeTopic, "__kmigrate-", kmsg.ACLOperationCreate),
			prefixed(kmsg.ACLResourceTypeTransactionalId, "kmigrate-", kmsg.ACLOperationWrite),
		)))
	src.CreateTopic(t, "orders", 2, nil)
	cfg := &config.Config{Source: src.Config, Target: tgt.Config, Topics: config.Topics{Selection: selectAll(t)}, Groups: config.Groups{Selection: selectAll(t)}}
	cfg.Mirror.Guarantee = config.ExactlyOnce
	cfg.Target.SASL = config.SASL{Mechanism: config.Plain, Username: "writer", Password: "writer-pw"}
	rep, err := preflight.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	name := state.DefaultName(src.ID, tgt.ID)
	want := map[string]preflight.Access{
		"create topics": {What: "create topics", Status: preflight.Yes, Detail: "the 2 topics it creates, per topic (no cluster-wide CREATE)"},
		"use the transactional id kmigrate-" + name: {What: "use the transactional id kmigrate-" + name, Status: preflight.Yes},
	}
	for _, a := range rep.Target.Access {
		if w, ok := want[a.What]; ok {
			if a != w {
				t.Errorf("target access %+v, want %+v", a, w)
			}
			delete(want, a.What)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing target access answers: %v", want)
	}
	if topics, err := tgt.Admin(t).ListTopics(t.Context()); err != nil || len(topics.Names()) != 0 {
		t.Errorf("target topics after check: %v (%v), want none: check creates nothing", topics.Names(), err)
	}
}

func TestRunCleanPairIsOK(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 3, nil)
	cfg := &config.Config{Source: pair.Source.Config, Target: pair.Target.Config, Topics: config.Topics{Selection: selectAll(t)}, Groups: config.Groups{Selection: selectAll(t)}}
	rep, err := preflight.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Warnings) != 0 {
		t.Errorf("problems %q warnings %q", rep.Problems, rep.Warnings)
	}
	if rep.Source.ClusterID != pair.Source.ID || rep.Target.ClusterID != pair.Target.ID {
		t.Errorf("ids %s %s, want %s %s", rep.Source.ClusterID, rep.Target.ClusterID, pair.Source.ID, pair.Target.ID)
	}
}

func TestSameCluster(t *testing.T) {
	a := &cluster.Info{ClusterID: "abc", Brokers: []cluster.Broker{{ID: 0, Host: "h1", Port: 9092}}}
	for _, tc := range []struct {
		name string
		b    *cluster.Info
		same bool
	}{
		{"same id", &cluster.Info{ClusterID: "abc"}, true},
		{"different id, shared address", &cluster.Info{ClusterID: "xyz", Brokers: a.Brokers}, false},
		{"no id, shared address", &cluster.Info{Brokers: []cluster.Broker{{ID: 5, Host: "h1", Port: 9092}}}, true},
		{"no id, other address", &cluster.Info{Brokers: []cluster.Broker{{ID: 0, Host: "h2", Port: 9092}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := preflight.SameCluster(a, tc.b)
			if got := errors.Is(err, cluster.ErrSameCluster); got != tc.same {
				t.Errorf("SameCluster = %v, want same=%v", err, tc.same)
			}
		})
	}
}
