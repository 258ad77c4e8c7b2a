package lane_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// grant is one ACL: operations on prefixed resources (or the cluster).
type grant struct {
	name    string // how the test refers to it
	cluster bool
	topics  []string // prefixes
	groups  []string // prefixes
	txnIDs  []string // prefixes
	ops     []kadm.ACLOperation
}

// migratorGrants are the ACLs a migrator principal holds on the target in
// TestACLTarget: what a migration of topics named orders-* with consumer
// groups group-* needs.
func migratorGrants() []grant {
	return []grant{
		{name: "cluster create", cluster: true, ops: []kadm.ACLOperation{kadm.OpCreate}},
		{name: "cluster idempotent write", cluster: true, ops: []kadm.ACLOperation{kadm.OpIdempotentWrite}},
		{name: "cluster describe", cluster: true, ops: []kadm.ACLOperation{kadm.OpDescribe, kadm.OpDescribeConfigs, kadm.OpAlterConfigs}},
		{name: "topics", topics: []string{"orders-", "__kmigrate-"}, ops: []kadm.ACLOperation{kadm.OpCreate, kadm.OpRead, kadm.OpWrite, kadm.OpDescribe, kadm.OpDescribeConfigs, kadm.OpAlterConfigs}},
		{name: "transactional ids", txnIDs: []string{"kmigrate-"}, ops: []kadm.ACLOperation{kadm.OpWrite, kadm.OpDescribe}},
		{name: "groups", groups: []string{"group-"}, ops: []kadm.ACLOperation{kadm.OpRead, kadm.OpDescribe}},
	}
}

func createGrants(t *testing.T, adm *kadm.Client, user string, gs []grant) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, g := range gs {
		b := kadm.NewACLs().Allow("User:" + user).AllowHosts("*").Operations(g.ops...).ResourcePatternType(kadm.ACLPatternPrefixed)
		switch {
		case g.cluster:
			b = b.Clusters().ResourcePatternType(kadm.ACLPatternLiteral)
		case g.topics != nil:
			b = b.Topics(g.topics...)
		case g.groups != nil:
			b = b.Groups(g.groups...)
		case g.txnIDs != nil:
			b = b.TransactionalIDs(g.txnIDs...)
		}
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			t.Fatalf("create ACLs %s: %v", g.name, err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACLs %s: %v", g.name, r.Err)
			}
		}
	}
}

// without returns migratorGrants less the named grants, and less op on
// the remaining topic grants when op is not zero.
func without(op kadm.ACLOperation, names ...string) []grant {
	var out []grant
	for _, g := range migratorGrants() {
		if slices.Contains(names, g.name) {
			continue
		}
		if g.topics != nil && op != 0 {
			g.ops = slices.DeleteFunc(slices.Clone(g.ops), func(o kadm.ACLOperation) bool { return o == op })
		}
		out = append(out, g)
	}
	return out
}

// TestACLTarget migrates to a 4.x target that enforces ACLs
// (StandardAuthorizer) as principals holding migratorGrants, or less:
//
//   - migrator (all of them): check and mirror pass, groups migrate too;
//   - nocreate (no CREATE on the cluster or the topics): check and mirror
//     refuse, naming the permission, and nothing is written;
//   - topiccreate (CREATE on the topic prefixes only, which Kafka accepts
//     for creating those topics): check must not refuse, mirror works;
//   - notxn (no transactional id ACLs): check and mirror refuse, naming
//     the transactional id, and nothing is written.
//
// topiccreate and notxn failed before check asked per topic and about the
// transactional id, and the mirror refused before writing.
func TestACLTarget(t *testing.T) {
	users := map[string]string{"admin": "admin-secret", "migrator": "m-secret", "nocreate": "n-secret", "topiccreate": "c-secret", "notxn": "t-secret"}
	cs := startSecure(t,
		realkafka.Config{Version: realkafka.KRaftVersion, Name: "acl-source", SASLSSL: &realkafka.SASLSSL{Users: users}},
		realkafka.Config{Version: realkafka.KRaftVersion, Name: "acl-target", SASLSSL: &realkafka.SASLSSL{Users: users, Authorizer: true, SuperUsers: []string{"admin"}}},
	)
	src := kafkatest.ConnectConfig(t, cs[0].config("source", "admin", users["admin"]))
	tgt := kafkatest.ConnectConfig(t, cs[1].config("target", "admin", users["admin"]))
	adm := tgt.Admin(t)
	createGrants(t, adm, "migrator", migratorGrants())
	createGrants(t, adm, "nocreate", without(kadm.OpCreate, "cluster create"))
	createGrants(t, adm, "topiccreate", without(0, "cluster create"))
	createGrants(t, adm, "notxn", without(0, "transactional ids"))

	for _, c := range []struct {
		user   string
		ok     bool
		naming string // what a refusal must mention
		bug    string
	}{
		{user: "nocreate", naming: "create"},
		{user: "notxn", naming: "transactional"},
		{user: "topiccreate", ok: true},
		{user: "migrator", ok: true},
	} {
		t.Run(c.user, func(t *testing.T) {
			if c.bug != "" {
				knownBug(t, c.bug)
			}
			topic, group := kafkatest.TopicName(t, "orders"), kafkatest.TopicName(t, "group")
			seedOrders(t, src, topic, 2, 100)
			src.CommitOffsets(t, group, map[string]map[int32]int64{topic: {0: 20, 1: 30}})
			m := newSecureMigration(t, cs[0].config("source", "admin", users["admin"]), cs[1].config("target", c.user, users[c.user]),
				fmt.Sprintf("topics:\n  include: [%s]\ngroups:\n  include: [%s]\n", topic, group))
			before := stateTopics(t, adm)
			out, errOut, code := run(t, m.args("check")...)
			switch {
			case c.ok != (code == 0):
				t.Errorf("check as %s: exit %d\n%s%s", c.user, code, out, errOut)
			case !c.ok && !strings.Contains(strings.ToLower(out+errOut), c.naming):
				t.Errorf("check as %s refused without naming %q:\n%s%s", c.user, c.naming, out, errOut)
			}
			out, errOut, code = run(t, m.args("mirror", "--until", "end")...)
			if !c.ok {
				switch {
				case code == 0:
					t.Errorf("mirror as %s: exit 0, want a refusal", c.user)
				case !strings.Contains(strings.ToLower(out+errOut), c.naming):
					t.Errorf("mirror as %s refused without naming %q:\n%s%s", c.user, c.naming, out, errOut)
				default:
					t.Logf("mirror as %s refused (exit %d): %s", c.user, code, lastLine(out+errOut))
				}
				if after := stateTopics(t, adm); len(after) != len(before) || tgt.Kfake != nil {
					t.Errorf("refused mirror as %s left state topics on the target: %v (before: %v)", c.user, after, before)
				}
				if ends := tgt.Admin(t); ends != nil && endOffset(t, ends, topic) >= 0 {
					t.Errorf("refused mirror as %s created the target topic %s", c.user, topic)
				}
				return
			}
			if code != 0 {
				t.Fatalf("mirror as %s: exit %d\n%s%s", c.user, code, out, errOut)
			}
			sameRecords(t, consumeSettled(t, src, topic), consumeSettled(t, tgt, topic))
			mustRun(t, m.args("groups", "migrate", "--group", group)...)
			if got := tgt.CommittedOffsets(t, group)[topic]; got[0] != 20 || got[1] != 30 {
				t.Errorf("target offsets %v, want 20 and 30", got)
			}
		})
	}
}

// stateTopics lists the __kmigrate-* topics on a cluster.
func stateTopics(t *testing.T, adm *kadm.Client) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range topics.Names() {
		if strings.HasPrefix(n, "__kmigrate-") {
			out = append(out, n)
		}
	}
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
