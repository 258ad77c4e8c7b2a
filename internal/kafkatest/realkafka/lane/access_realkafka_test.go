package lane_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// accessOp is one client operation a principal tries on both clusters,
// with the outcome it must have on each: "ok" or Kafka's error name.
type accessOp struct {
	user string // on the source; the target user follows the spec's rule
	what string
	do   func(ctx context.Context, c *config.Cluster, topic func(string) string) error
	want string
}

// TestAccessRealKafka moves the ACL bindings of three SCRAM principals
// (literal and prefixed topic bindings, a DENY, group, transactional-id and
// cluster bindings; one principal renamed by a rule) between two Kafka 4.x
// clusters with StandardAuthorizer, under the topic prefix "m.", and then
// shows with real client operations that each principal can do on the
// target exactly what it could on the source. A prefixed binding that would
// also cover a target topic outside the migration is held back until
// --allow-spill. Then the same again with the target's bindings deleted
// and `kmigrate mirror --until end` (its ACL sync), not access apply,
// moving them: the same operations, and verify reports them equal.
func TestAccessRealKafka(t *testing.T) {
	users := map[string]string{"admin": "admin-secret", "migrator": "m-secret", "app": "app-secret", "reader": "r-secret", "legacy": "l-secret", "newapp": "n-secret"}
	secure := func(name string) realkafka.Config {
		return realkafka.Config{Version: realkafka.KRaftVersion, Name: name,
			SASLSSL: &realkafka.SASLSSL{Users: users, Authorizer: true, SuperUsers: []string{"admin", "migrator"}}}
	}
	cs := startSecure(t, secure("access-source"), secure("access-target"))
	src := kafkatest.ConnectConfig(t, cs[0].config("source", "admin", users["admin"]))
	tgt := kafkatest.ConnectConfig(t, cs[1].config("target", "admin", users["admin"]))
	for _, topic := range []string{"orders", "payments", "other"} {
		seedOrders(t, src, topic, 1, 10)
	}
	tgt.CreateTopic(t, "m.paysheet", 1, nil) // outside the migration, under the prefix m.pay
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
	add(allow, "app", topic, "other", lit, read) // not selected: not copied
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if failed, err := acls.Create(ctx, src.Client(t), bs); err != nil || len(failed) > 0 {
		t.Fatalf("source bindings: %v %v", err, failed)
	}

	// A user only the source has (a non-default iteration count), and a
	// quota for the renamed principal.
	sadm := src.Admin(t)
	if res, err := sadm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "carol-on-source"}}); err != nil || res.Error() != nil {
		t.Fatalf("source user: %v %v", err, res.Error())
	}
	legacy := "legacy"
	if res, err := sadm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &legacy}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1048576}},
	}}); err != nil || res[0].Err != nil {
		t.Fatalf("source quota: %v %v", err, res)
	}
	const carolSecret = "carol-Target-Secret-7"
	secrets := filepath.Join(t.TempDir(), "secrets.yaml")
	if err := os.WriteFile(secrets, []byte("carol: "+carolSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	m := newSecureMigration(t, cs[0].config("source", "migrator", users["migrator"]), cs[1].config("target", "migrator", users["migrator"]),
		"topics:\n  include: [orders, payments]\n  prefix: m.\ngroups:\n  include: [app-group, reader-g1]\nacls:\n  principals: [\"User:legacy -> User:newapp\"]\n")
	mustRun(t, m.args("mirror", "--until", "end", "--acls", "off")...) // access apply moves them first
	out := mustRun(t, m.args("access", "plan")...)
	for _, want := range []string{
		"ACLs: 15 source bindings concerning the migration, 0 already on the target, 13 to create, 0 extra on the target, 2 conflicts\n",
		"  ALLOW User:newapp@* WRITE TOPIC m.payments (LITERAL)\n",
		"  DENY User:reader@* READ TOPIC m.orders (LITERAL)\n",
		"  ALLOW User:reader@* READ TOPIC m.pay (PREFIXED) (from pay) also covers m.paysheet: not written: allow with acls.allow_spill or --allow-spill\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("access plan lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"Quotas: 0 equal on both sides, 1 to set, 0 extra on the target\n  set {user=newapp} producer_byte_rate=1048576\n",
		"  missing on the target: carol (SCRAM-SHA-512, 8192 iterations)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("access plan lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code := run(t, append(m.args("access", "apply", "--users-secrets", secrets), "--log-level", "debug")...)
	if code != 0 || strings.Contains(out+errOut, carolSecret) {
		t.Fatalf("access apply: exit %d, or the secret printed:\n%s%s", code, out, errOut)
	}
	carol := cs[1].config("target", "carol", carolSecret)
	if cl, err := cluster.Connect(ctx, &carol, nil); err != nil {
		t.Errorf("carol cannot authenticate on the target: %v", err)
	} else {
		cl.Close()
	}
	if out, _, code := run(t, m.args("access", "verify")...); code != 1 {
		t.Errorf("verify with the spill held back: exit %d, want 1\n%s", code, out)
	}

	srcUser := func(u string) config.Cluster { return cs[0].config("source", u, users[u]) }
	tgtUser := func(u string) config.Cluster {
		if u == "legacy" {
			u = "newapp"
		}
		return cs[1].config("target", u, users[u])
	}
	readPayments := accessOp{"reader", "read payments", readOne("payments"), "ok"}
	if got := outcome(ctx, t, tgtUser("reader"), "m.", readPayments, "TOPIC_AUTHORIZATION_FAILED"); got != "TOPIC_AUTHORIZATION_FAILED" {
		t.Errorf("reader reads m.payments before the spill is allowed: %s, want TOPIC_AUTHORIZATION_FAILED", got)
	}
	mustRun(t, m.args("access", "apply", "--allow-spill")...)
	if out := mustRun(t, m.args("access", "verify", "--allow-spill")...); !strings.Contains(out, "OK: the target holds the source's bindings and quotas for the migration, and every source user.") {
		t.Errorf("verify:\n%s", out)
	}

	ops := []accessOp{
		{"app", "produce orders", produceOne("orders"), "ok"},
		{"app", "produce payments", produceOne("payments"), "TOPIC_AUTHORIZATION_FAILED"},
		{"app", "read orders", readOne("orders"), "ok"},
		{"app", "commit app-group", commitOne("app-group", "orders"), "ok"},
		{"app", "transaction app-tx-1 to orders", txnOne("app-tx-1", "orders"), "ok"},
		readPayments,
		{"reader", "read orders (DENY)", readOne("orders"), "TOPIC_AUTHORIZATION_FAILED"},
		{"reader", "produce payments", produceOne("payments"), "TOPIC_AUTHORIZATION_FAILED"},
		{"reader", "commit app-group", commitOne("app-group", "payments"), "GROUP_AUTHORIZATION_FAILED"},
		{"reader", "commit reader-g1", commitOne("reader-g1", "payments"), "ok"},
		{"reader", "transaction reader-tx", txnOne("reader-tx", "payments"), "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"},
		{"legacy", "produce payments", produceOne("payments"), "ok"},
		{"legacy", "produce orders", produceOne("orders"), "TOPIC_AUTHORIZATION_FAILED"},
	}
	checkOps(ctx, t, ops, srcUser, tgtUser)

	// The mirror's ACL sync moves them as well: from a target without
	// bindings, the spill held back until --allow-spill.
	tcl := tgt.Client(t)
	onTarget, err := acls.Read(ctx, tcl)
	if err != nil {
		t.Fatal(err)
	}
	if failed, err := acls.Delete(ctx, tcl, onTarget); err != nil || len(failed) > 0 {
		t.Fatalf("delete the target's bindings: %v %v", err, failed)
	}
	mustRun(t, m.args("mirror", "--until", "end")...)
	if out := mustRun(t, m.args("status", "--sample", "0")...); !strings.Contains(out, ": 13 created, 0 removed, 2 held back, 0 failed; 0 equal, 13 created by kmigrate on record") {
		t.Errorf("status after mirror does not report its ACL sync:\n%s", out)
	}
	if got := outcome(ctx, t, tgtUser("reader"), "m.", readPayments, "TOPIC_AUTHORIZATION_FAILED"); got != "TOPIC_AUTHORIZATION_FAILED" {
		t.Errorf("reader reads m.payments before mirror --allow-spill: %s, want TOPIC_AUTHORIZATION_FAILED", got)
	}
	mustRun(t, m.args("mirror", "--until", "end", "--allow-spill")...)
	var rep struct {
		Access struct {
			InSync bool       `json:"in_sync"`
			ACLs   *acls.Plan `json:"acls"`
		} `json:"access"`
	}
	// Exit 0 or 1: the records do not match any more, the operations
	// above wrote to both clusters; the access section is what counts.
	out, _, _ = run(t, m.args("verify", "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Access.InSync || rep.Access.ACLs == nil || rep.Access.ACLs.Equal != 13 ||
		len(rep.Access.ACLs.Create) != 0 || len(rep.Access.ACLs.Spills) != 2 || !rep.Access.ACLs.Spills[0].OnTarget {
		t.Errorf("verify after mirror: %v, access %+v; want in sync, 13 bindings equal and both spills on the target\n%s", err, rep.Access, out)
	}
	checkOps(ctx, t, ops, srcUser, tgtUser)
}

// checkOps runs each op as its user on both clusters (topics under "m."
// on the target) and reports those whose outcome is not op.want on both.
func checkOps(ctx context.Context, t *testing.T, ops []accessOp, srcUser, tgtUser func(string) config.Cluster) {
	t.Helper()
	for _, op := range ops {
		s := outcome(ctx, t, srcUser(op.user), "", op, op.want)
		g := outcome(ctx, t, tgtUser(op.user), "m.", op, op.want)
		if s != op.want || g != op.want {
			t.Errorf("%s %s: source %s, target %s, want %s on both", op.user, op.what, s, g, op.want)
		}
	}
}

// outcome runs op as the client configuration's user, topics named with
// prefix, until it has the outcome want or 30 s passed (a new binding
// reaches the broker's authorizer through the metadata log, a moment after
// CreateAcls answers), and returns the last outcome.
func outcome(ctx context.Context, t *testing.T, c config.Cluster, prefix string, op accessOp, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := tryOp(ctx, t, c, prefix, op)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func tryOp(ctx context.Context, t *testing.T, c config.Cluster, prefix string, op accessOp) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := op.do(ctx, &c, func(s string) string { return prefix + s })
	var ke *kerr.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ke):
		return ke.Message
	default:
		return err.Error()
	}
}

// opFunc is an accessOp's operation.
type opFunc = func(ctx context.Context, c *config.Cluster, name func(string) string) error

// withClient runs f with a client for c and closes it.
func withClient(c *config.Cluster, f func(*kgo.Client) error, opts ...kgo.Opt) error {
	cl, err := cluster.NewClient(c, nil, append([]kgo.Opt{kgo.RequestRetries(2)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return f(cl)
}

func produceOne(topic string) opFunc {
	return func(ctx context.Context, c *config.Cluster, name func(string) string) error {
		return withClient(c, func(cl *kgo.Client) error {
			return cl.ProduceSync(ctx, &kgo.Record{Topic: name(topic), Value: []byte("probe")}).FirstErr()
		}, kgo.DisableIdempotentWrite()) // a refusal is then the topic's, not the producer id's
	}
}

// readOne reads a record of partition 0 without a group.
func readOne(topic string) opFunc {
	return func(ctx context.Context, c *config.Cluster, name func(string) string) error {
		return withClient(c, func(cl *kgo.Client) error {
			for {
				fs := cl.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					return err
				}
				if fs.NumRecords() > 0 {
					return nil
				}
			}
		}, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{name(topic): {0: kgo.NewOffset().AtStart()}}))
	}
}

func commitOne(group, topic string) opFunc {
	return func(ctx context.Context, c *config.Cluster, name func(string) string) error {
		return withClient(c, func(cl *kgo.Client) error {
			os := kadm.Offsets{}
			os.Add(kadm.Offset{Topic: name(topic), Partition: 0, At: 1, LeaderEpoch: -1})
			resp, err := kadm.NewClient(cl).CommitOffsets(ctx, group, os)
			if err != nil {
				return err
			}
			return resp.Error()
		})
	}
}

func txnOne(id, topic string) opFunc {
	return func(ctx context.Context, c *config.Cluster, name func(string) string) error {
		return withClient(c, func(cl *kgo.Client) error {
			if err := cl.BeginTransaction(); err != nil {
				return err
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: name(topic), Value: []byte("probe")}).FirstErr(); err != nil {
				_ = cl.EndTransaction(ctx, kgo.TryAbort)
				return err
			}
			return cl.EndTransaction(ctx, kgo.TryCommit)
		}, kgo.TransactionalID(id))
	}
}
