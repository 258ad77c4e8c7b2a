package lane_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// TestAccessZooKeeperSource moves the ACL bindings of three SCRAM
// principals from a Kafka 3.9 cluster in ZooKeeper mode, whose ACLs the
// AclAuthorizer enforces (they live in ZooKeeper), to a Kafka 4.x KRaft
// cluster with the StandardAuthorizer, under the topic prefix "m." and a
// principal rule: literal and prefixed topic bindings, a DENY, literal and
// prefixed group bindings, a transactional-id and a cluster binding. Then
// `kmigrate mirror --until end` (its ACL sync) moves them, and real client
// operations show that each principal can do on the target exactly what it
// could on the source; plan, verify and status report the bindings as
// kmigrate access compares them.
func TestAccessZooKeeperSource(t *testing.T) {
	users := map[string]string{"admin": "admin-secret", "migrator": "m-secret", "app": "app-secret", "reader": "r-secret", "legacy": "l-secret", "newapp": "n-secret"}
	secure := func(version, name string) realkafka.Config {
		return realkafka.Config{Version: version, Name: name,
			SASLSSL: &realkafka.SASLSSL{Users: users, Authorizer: true, SuperUsers: []string{"admin", "migrator"}}}
	}
	cs := startSecure(t, secure(realkafka.ZooKeeperVersion, "acl39-source"), secure(realkafka.KRaftVersion, "acl39-target"))
	src := kafkatest.ConnectConfig(t, cs[0].config("source", "admin", users["admin"]))
	for _, topic := range []string{"orders", "payments"} {
		seedOrders(t, src, topic, 1, 10)
	}
	for _, g := range []string{"app-group", "reader-g1"} {
		src.CommitOffsets(t, g, map[string]map[int32]int64{"orders": {0: 0}})
	}
	topic, group, txn, clus := kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeTransactionalId, kmsg.ACLResourceTypeCluster
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	var bs []acls.Binding
	add := func(perm kmsg.ACLPermissionType, user string, res kmsg.ACLResourceType, name string, pat kmsg.ACLResourcePatternType, ops ...kmsg.ACLOperation) {
		for _, op := range ops {
			bs = append(bs, acls.Binding{Resource: res, Name: name, Pattern: pat, Principal: "User:" + user, Host: "*", Operation: op, Permission: perm})
		}
	}
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	read, write, describe := kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe
	add(allow, "app", topic, "orders", lit, read, write, describe)
	add(allow, "app", group, "app-group", lit, read)
	add(allow, "app", txn, "app-tx", pre, write, describe)
	add(allow, "app", clus, "kafka-cluster", lit, kmsg.ACLOperationIdempotentWrite)
	add(allow, "reader", topic, "pay", pre, read, describe)
	add(allow, "reader", topic, "orders", lit, read, describe)
	add(deny, "reader", topic, "orders", lit, read)
	add(allow, "reader", group, "reader-", pre, read)
	add(allow, "legacy", topic, "payments", lit, write, describe)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if failed, err := acls.Create(ctx, src.Client(t), bs); err != nil || len(failed) > 0 {
		t.Fatalf("source bindings: %v %v", err, failed)
	}

	m := newSecureMigration(t, cs[0].config("source", "migrator", users["migrator"]), cs[1].config("target", "migrator", users["migrator"]),
		"topics:\n  include: [orders, payments]\n  prefix: m.\ngroups:\n  include: [app-group, reader-g1]\nacls:\n  principals: [\"User:legacy -> User:newapp\"]\n")
	mustRun(t, m.args("mirror", "--until", "end", "--acls", "off")...)
	// plan lists what access apply (or the mirror's ACL sync) would do.
	out := mustRun(t, m.args("plan")...)
	for _, want := range []string{
		"What kmigrate access apply would do:\nACLs: 15 source bindings concerning the migration, 0 already on the target, 15 to create, 0 extra on the target, 0 conflicts\n",
		"  ALLOW User:newapp@* WRITE TOPIC m.payments (LITERAL)\n",
		"  DENY User:reader@* READ TOPIC m.orders (LITERAL)\n",
		"  ALLOW User:reader@* READ TOPIC m.pay (PREFIXED)\n",
		"  ALLOW User:app@* WRITE TRANSACTIONAL_ID app-tx (PREFIXED)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if out, _, code := run(t, m.args("access", "verify")...); code != 1 {
		t.Errorf("access verify before apply: exit %d, want 1\n%s", code, out)
	}
	mustRun(t, m.args("mirror", "--until", "end")...)
	if out := mustRun(t, m.args("access", "verify")...); !strings.Contains(out, "OK: the target holds the source's bindings and quotas for the migration, and every source user.") {
		t.Errorf("access verify after mirror:\n%s", out)
	}
	var rep struct {
		OK     bool `json:"ok"`
		Access struct {
			InSync bool       `json:"in_sync"`
			ACLs   *acls.Plan `json:"acls"`
		} `json:"access"`
	}
	out = mustRun(t, m.args("verify", "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.OK || !rep.Access.InSync || rep.Access.ACLs == nil || rep.Access.ACLs.Equal != 15 {
		t.Errorf("verify: %v, ok %v, access %+v; want ok and 15 bindings equal\n%s", err, rep.OK, rep.Access, out)
	}
	if out := mustRun(t, m.args("status", "--sample", "0")...); !strings.Contains(out, "ACLs, quotas and users: equal on both sides: ACL bindings 15 of 15 on the target") ||
		!strings.Contains(out, ": 15 created, 0 removed, 0 held back, 0 failed; 0 equal, 15 created by kmigrate on record") {
		t.Errorf("status does not report the bindings equal and the mirror's ACL sync:\n%s", out)
	}
	mustRun(t, m.args("mirror", "--until", "end")...) // again: nothing to do
	if out := mustRun(t, m.args("status", "--sample", "0")...); !strings.Contains(out, ": 0 created, 0 removed, 0 held back, 0 failed; 15 equal, 15 created by kmigrate on record") {
		t.Errorf("status after a second mirror:\n%s", out)
	}

	srcUser := func(u string) config.Cluster { return cs[0].config("source", u, users[u]) }
	tgtUser := func(u string) config.Cluster {
		if u == "legacy" {
			u = "newapp"
		}
		return cs[1].config("target", u, users[u])
	}
	ops := []accessOp{
		{"app", "produce orders", produceOne("orders"), "ok"},
		{"app", "produce payments", produceOne("payments"), "TOPIC_AUTHORIZATION_FAILED"},
		{"app", "read orders", readOne("orders"), "ok"},
		{"app", "commit app-group", commitOne("app-group", "orders"), "ok"},
		{"app", "transaction app-tx-1 to orders", txnOne("app-tx-1", "orders"), "ok"},
		{"reader", "read payments", readOne("payments"), "ok"},
		{"reader", "read orders (DENY)", readOne("orders"), "TOPIC_AUTHORIZATION_FAILED"},
		{"reader", "produce payments", produceOne("payments"), "TOPIC_AUTHORIZATION_FAILED"},
		{"reader", "commit app-group", commitOne("app-group", "payments"), "GROUP_AUTHORIZATION_FAILED"},
		{"reader", "commit reader-g1", commitOne("reader-g1", "payments"), "ok"},
		{"reader", "transaction reader-tx", txnOne("reader-tx", "payments"), "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"},
		{"legacy", "produce payments", produceOne("payments"), "ok"},
		{"legacy", "produce orders", produceOne("orders"), "TOPIC_AUTHORIZATION_FAILED"},
	}
	for _, op := range ops {
		s := outcome(ctx, t, srcUser(op.user), "", op, op.want)
		g := outcome(ctx, t, tgtUser(op.user), "m.", op, op.want)
		if s != op.want || g != op.want {
			t.Errorf("%s %s: source (Kafka 3.9, ZooKeeper, AclAuthorizer) %s, target (Kafka 4.x, StandardAuthorizer) %s, want %s on both", op.user, op.what, s, g, op.want)
		}
	}
}
