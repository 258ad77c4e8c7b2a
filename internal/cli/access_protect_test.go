package cli_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestAccessProtect: after access apply, protect denies the application's
// writes to the mirrored target topic (the mirror, as the migrator, still
// copies), verify does not count the guard as extra, promote releases it,
// and unprotect leaves none of kmigrate's bindings.
func TestAccessProtect(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1), kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"),
		kafkatest.Kfake(kfake.EnableACLs(), kfake.User("SCRAM-SHA-256", "app", "app-pw")))
	pair.Source.CreateTopic(t, "orders", 1, nil)
	pair.Source.CreateTopic(t, "payments", 1, nil)
	writes := func(topic string) []acls.Binding {
		var bs []acls.Binding
		for _, op := range []kmsg.ACLOperation{kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe} {
			bs = append(bs, acls.Binding{Resource: kmsg.ACLResourceTypeTopic, Name: topic, Pattern: kmsg.ACLResourcePatternTypeLiteral,
				Principal: "User:app", Host: "*", Operation: op, Permission: kmsg.ACLPermissionTypeAllow})
		}
		return bs
	}
	copied := append(writes("orders"), writes("payments")...)
	if failed, err := acls.Create(t.Context(), pair.Source.Client(t), copied); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	spec := saslSpec(t, pair, "protect", "topics: {include: [orders, payments]}\n")
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := kmigrate(t, append(args, "-f", spec, "--log-level", "warn")...)
		if code != 0 {
			t.Fatalf("kmigrate %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	produce := func(c *kafkatest.Cluster, topic string) error { return produceAs(t, c, topic) }

	must("access", "apply")
	must("mirror", "--until", "end", "--progress", "never")
	if out := must("access", "protect"); !strings.Contains(out, "Write guards: 2 topics protected, 0 topics released, 2 added, 0 removed\n"+
		"  added DENY User:app@* WRITE TOPIC orders (LITERAL)\n  added DENY User:app@* WRITE TOPIC payments (LITERAL)\n") {
		t.Errorf("protect:\n%s", out)
	}
	if err := produce(pair.Target, "orders"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("app writes to the protected target topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := produce(pair.Source, "orders"); err != nil {
		t.Errorf("app writes to the source: %v", err)
	}
	must("mirror", "--until", "end", "--progress", "never") // the migrator still copies
	if got := len(pair.Target.ConsumeAll(t, "orders")); got != 1 {
		t.Errorf("target orders holds %d records after the second mirror, want 1", got)
	}
	if out := must("access", "verify"); !strings.Contains(out, "(2 write guards of kmigrate access protect on the target, not counted as extra)") {
		t.Errorf("verify:\n%s", out)
	}
	if out := must("access", "protect"); !strings.Contains(out, "2 topics protected, 0 topics released, 0 added, 0 removed\n") {
		t.Errorf("protect again:\n%s", out)
	}

	// promote removes the guard of the topic it promotes; protect then
	// finds nothing to release.
	if out := must("promote", "--topic", "orders", "--force"); !strings.Contains(out, "Write guards removed: orders\n") {
		t.Errorf("promote:\n%s", out)
	}
	if out := must("access", "protect"); !strings.Contains(out, "1 topic protected, 1 topic released, 0 added, 0 removed\n") {
		t.Errorf("protect after promote:\n%s", out)
	}
	if err := produce(pair.Target, "orders"); err != nil {
		t.Errorf("app writes to the promoted target topic: %v", err)
	}
	if err := produce(pair.Target, "payments"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("app writes to the still protected payments: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	if out := must("access", "unprotect"); !strings.Contains(out, "0 topics protected, 2 topics released, 0 added, 1 removed\n  removed DENY User:app@* WRITE TOPIC payments (LITERAL)\n") {
		t.Errorf("unprotect:\n%s", out)
	}
	got, err := acls.Read(t.Context(), pair.Target.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	cmp := func(a, b acls.Binding) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(copied, cmp)
	if !reflect.DeepEqual(got, copied) {
		t.Errorf("target bindings after unprotect:\n%v\nwant only the copied ones:\n%v", got, copied)
	}
	if err := produce(pair.Target, "payments"); err != nil {
		t.Errorf("app writes to payments after unprotect: %v", err)
	}
}
