package lane_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// TestProtectRealKafka: on a Kafka 4.x target with StandardAuthorizer,
// `access protect` makes a third-party producer (confluent-kafka-python)
// fail with TOPIC_AUTHORIZATION_FAILED on a mirrored target topic while the
// mirror, as a migrator that is no superuser, still copies into it; after
// promote (which removes the guard) the producer succeeds; unprotect leaves no DENY
// binding behind.
func TestProtectRealKafka(t *testing.T) {
	users := map[string]string{"admin": "admin-secret", "migrator": "m-secret", "app": "app-secret"}
	cs := startSecure(t,
		realkafka.Config{Version: realkafka.KRaftVersion, Name: "protect-source", SASLSSL: &realkafka.SASLSSL{Users: users, Authorizer: true, SuperUsers: []string{"admin", "migrator"}}},
		realkafka.Config{Version: realkafka.KRaftVersion, Name: "protect-target", SASLSSL: &realkafka.SASLSSL{Users: users, Authorizer: true, SuperUsers: []string{"admin"}}},
	)
	src := kafkatest.ConnectConfig(t, cs[0].config("source", "admin", users["admin"]))
	tgt := kafkatest.ConnectConfig(t, cs[1].config("target", "admin", users["admin"]))
	tadm := tgt.Admin(t)
	// The migrator's grants for orders-* topics, and ALTER on the cluster
	// for writing ACLs.
	createGrants(t, tadm, "migrator", append(migratorGrants(), grant{name: "cluster alter", cluster: true, ops: []kadm.ACLOperation{kadm.OpAlter}}))
	topic := "orders-protect"
	seedOrders(t, src, topic, 1, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var appBindings []acls.Binding
	for _, b := range []struct {
		res  kmsg.ACLResourceType
		name string
		op   kmsg.ACLOperation
	}{
		{kmsg.ACLResourceTypeTopic, topic, kmsg.ACLOperationWrite},
		{kmsg.ACLResourceTypeTopic, topic, kmsg.ACLOperationDescribe},
		{kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationIdempotentWrite},
	} {
		appBindings = append(appBindings, acls.Binding{Resource: b.res, Name: b.name, Pattern: kmsg.ACLResourcePatternTypeLiteral,
			Principal: "User:app", Host: "*", Operation: b.op, Permission: kmsg.ACLPermissionTypeAllow})
	}
	if failed, err := acls.Create(ctx, src.Client(t), appBindings); err != nil || len(failed) > 0 {
		t.Fatalf("source bindings: %v %v", err, failed)
	}
	m := newSecureMigration(t, cs[0].config("source", "migrator", users["migrator"]), cs[1].config("target", "migrator", users["migrator"]),
		fmt.Sprintf("topics:\n  include: [%s]\n", topic))
	appProduce := func(c *secureCluster, role string) error {
		py := kafkatest.NewPython(t, kafkatest.ConnectConfig(t, c.config(role, "app", users["app"])))
		v := "from-app"
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err := py.Produce(pctx, []kafkatest.Message{{Topic: topic, Value: &v}})
		return err
	}

	mustRun(t, m.args("access", "apply")...)
	mustRun(t, m.args("mirror", "--until", "end")...)
	if out := mustRun(t, m.args("access", "protect")...); !strings.Contains(out, "  added DENY User:app@* WRITE TOPIC "+topic+" (LITERAL)\n") {
		t.Errorf("protect:\n%s", out)
	}
	// The guard reaches the broker's authorizer through the metadata log
	// a moment after CreateAcls answers: retry until it is there.
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; {
		err = appProduce(cs[1], "target")
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err == nil || !strings.Contains(err.Error(), "TOPIC_AUTHORIZATION_FAILED") {
		t.Errorf("app writes to the protected target topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := appProduce(cs[0], "source"); err != nil {
		t.Errorf("app writes to the source: %v", err)
	}
	mustRun(t, m.args("mirror", "--until", "end")...) // the migrator is not guarded
	if got := len(consumeSettled(t, tgt, topic)); got != 11 {
		t.Errorf("target holds %d records after the second mirror, want 11", got)
	}
	// promote removes the promoted topic's guard itself; protect then
	// has nothing left to release.
	if out := mustRun(t, m.args("promote", "--topic", topic, "--force")...); !strings.Contains(out, "Write guards removed: "+topic+"\n") {
		t.Errorf("promote:\n%s", out)
	}
	if out := mustRun(t, m.args("access", "protect")...); !strings.Contains(out, "0 topics protected, 1 topic released, 0 added, 0 removed\n") {
		t.Errorf("protect after promote:\n%s", out)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		err = appProduce(cs[1], "target")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Errorf("app writes to the promoted target topic: %v", err)
	}
	mustRun(t, m.args("access", "unprotect")...)
	bs, err := acls.Read(ctx, tgt.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Permission == kmsg.ACLPermissionTypeDeny {
			t.Errorf("a DENY binding remains on the target: %s", b)
		}
	}
}
