package cli_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestPromoteReleasesGuards: a bounded copy with --protect-target leaves
// its write guards (no mirror runs to watch the promotions); `promote`
// itself removes the guard of the topic it promotes, says so, and leaves
// the other topic's guard; once both are promoted none of kmigrate's
// bindings remains.
func TestPromoteReleasesGuards(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1), kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"),
		kafkatest.Kfake(kfake.EnableACLs(), kfake.User("SCRAM-SHA-256", "app", "app-pw")))
	var copied []acls.Binding
	for _, topic := range []string{"orders", "payments"} {
		pair.Source.CreateTopic(t, topic, 1, nil)
		pair.Source.Produce(t, &kgo.Record{Topic: topic, Value: []byte("first")})
		for _, op := range []kmsg.ACLOperation{kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe} {
			copied = append(copied, acls.Binding{Resource: kmsg.ACLResourceTypeTopic, Name: topic, Pattern: kmsg.ACLResourcePatternTypeLiteral,
				Principal: "User:app", Host: "*", Operation: op, Permission: kmsg.ACLPermissionTypeAllow})
		}
	}
	if failed, err := acls.Create(t.Context(), pair.Source.Client(t), copied); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	spec := saslSpec(t, pair, "guarded-bounded", "topics: {include: [orders, payments]}\ngroups: {sync: false}\n")
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := kmigrate(t, append(args, "-f", spec, "--log-level", "warn")...)
		if code != 0 {
			t.Fatalf("kmigrate %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	run("mirror", "--until", "end", "--protect-target", "--progress", "never")
	for _, topic := range []string{"orders", "payments"} {
		if err := produceAs(t, pair.Target, topic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("app writes to the mirrored target topic %s: %v, want TOPIC_AUTHORIZATION_FAILED", topic, err)
		}
	}

	if out := run("promote", "--topic", "orders", "--force"); !strings.Contains(out, "Write guards removed: orders\n") {
		t.Errorf("promote orders says:\n%s\nwant the guard of orders removed", out)
	}
	if err := produceAs(t, pair.Target, "orders"); err != nil {
		t.Errorf("app writes to the promoted orders: %v, want success", err)
	}
	if err := produceAs(t, pair.Target, "payments"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("app writes to payments, not promoted: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	if out := run("promote", "--topic", "payments", "--force"); !strings.Contains(out, "Write guards removed: payments\n") {
		t.Errorf("promote payments says:\n%s\nwant the guard of payments removed", out)
	}
	got, err := acls.Read(t.Context(), pair.Target.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	cmp := func(a, b acls.Binding) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(copied, cmp)
	if !reflect.DeepEqual(got, copied) {
		t.Errorf("target bindings after both promotions:\n%v\nwant only the copied ones:\n%v", got, copied)
	}
}
