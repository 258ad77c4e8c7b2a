package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/cli"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

func appWrites(topic string) []acls.Binding {
	var bs []acls.Binding
	for _, op := range []kmsg.ACLOperation{kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe} {
		bs = append(bs, acls.Binding{Resource: kmsg.ACLResourceTypeTopic, Name: topic, Pattern: kmsg.ACLResourcePatternTypeLiteral,
			Principal: "User:app", Host: "*", Operation: op, Permission: kmsg.ACLPermissionTypeAllow})
	}
	return bs
}

func aclPair(t *testing.T) *kafkatest.Pair {
	t.Helper()
	return kafkatest.NewPair(t, kafkatest.Brokers(1), kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"),
		kafkatest.Kfake(kfake.EnableACLs(), kfake.User("SCRAM-SHA-256", "app", "app-pw")))
}

// TestMirrorACLSync: mirror --until end gives the target the source's
// bindings (the application can write there, verify finds them equal); a
// continuous mirror removes a binding removed on the source and adds one
// added there, and leaves a target-only binding alone.
func TestMirrorACLSync(t *testing.T) {
	pair := aclPair(t)
	pair.Source.CreateTopic(t, "orders", 1, nil)
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Value: []byte("first")})
	src, tgt := pair.Source.Client(t), pair.Target.Client(t)
	if failed, err := acls.Create(t.Context(), src, appWrites("orders")); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	spec := saslSpec(t, pair, "aclsync", "topics: {include: [orders]}\ngroups: {sync: false}\n")
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := kmigrate(t, append(args, "-f", spec, "--log-level", "warn")...)
		if code != 0 {
			t.Fatalf("kmigrate %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	if code, _, errOut := kmigrate(t, "mirror", "-f", spec, "--acls", "maybe"); code != 2 || !strings.Contains(errOut, `--acls "maybe": use sync (the default) or off`) {
		t.Errorf("--acls maybe: exit %d, %s", code, errOut)
	}

	must("mirror", "--until", "end", "--progress", "never")
	if err := produceAs(t, pair.Target, "orders"); err != nil {
		t.Errorf("app writes to the target after mirror --until end: %v", err)
	}
	if out := must("verify"); !strings.Contains(out, "ACLs, quotas and users: equal on both sides: ACL bindings 2 of 2 on the target") {
		t.Errorf("verify:\n%s", out)
	}

	targetOnly := acls.Binding{Resource: kmsg.ACLResourceTypeTopic, Name: "orders", Pattern: kmsg.ACLResourcePatternTypeLiteral,
		Principal: "User:ops", Host: "*", Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow}
	if failed, err := acls.Create(t.Context(), tgt, []acls.Binding{targetOnly}); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"mirror", "-f", spec, "--acl-sync-interval", "100ms", "--progress", "never", "--log-level", "warn"}, bytes.NewReader(nil), &out, &errOut)
	}()
	write := appWrites("orders")[0]
	if failed, err := acls.Delete(t.Context(), src, []acls.Binding{write}); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	waitFor(t, "the removed WRITE gone from the target", func() bool {
		return errors.Is(produceAs(t, pair.Target, "orders"), kerr.TopicAuthorizationFailed)
	})
	if failed, err := acls.Create(t.Context(), src, []acls.Binding{write}); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	waitFor(t, "the added WRITE on the target", func() bool { return produceAs(t, pair.Target, "orders") == nil })
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("mirror exited %d\n%s%s", code, out.String(), errOut.String())
		}
	case <-time.After(2 * time.Minute): // hang guard
		t.Fatalf("the mirror did not stop\n%s%s", out.String(), errOut.String())
	}
	got, err := acls.Read(t.Context(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, targetOnly) || len(got) != 3 {
		t.Errorf("target bindings at the end: %v, want the target-only one and the app's two", got)
	}
}

// TestMirrorACLSyncProtect: with --protect-target, a bounded mirror syncs
// the bindings before it guards, so the application the sync allowed to
// write is denied on the mirrored topic; --acls off copies none.
func TestMirrorACLSyncProtect(t *testing.T) {
	pair := aclPair(t)
	for _, topic := range []string{"orders", "payments"} {
		pair.Source.CreateTopic(t, topic, 1, nil)
		pair.Source.Produce(t, &kgo.Record{Topic: topic, Value: []byte("first")})
		if failed, err := acls.Create(t.Context(), pair.Source.Client(t), appWrites(topic)); err != nil || len(failed) > 0 {
			t.Fatal(err, failed)
		}
	}
	run := func(name, topic string, args ...string) {
		t.Helper()
		spec := saslSpec(t, pair, name, "topics: {include: ["+topic+"]}\n")
		if code, out, errOut := kmigrate(t, append([]string{"mirror", "-f", spec, "--until", "end", "--progress", "never", "--log-level", "warn"}, args...)...); code != 0 {
			t.Fatalf("mirror %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	run("guarded", "orders", "--protect-target")
	if err := produceAs(t, pair.Target, "orders"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("app writes to the guarded target topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	run("off", "payments", "--acls", "off")
	got, err := acls.Read(t.Context(), pair.Target.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range got {
		if b.Name == "payments" {
			t.Errorf("--acls off wrote %s", b)
		}
	}
}

// TestMirrorACLSyncNotAllowed: a source migrator that may read the topics
// but not describe ACLs gets a warning naming the missing right, and the
// mirror still copies every record and exits 0.
func TestMirrorACLSyncNotAllowed(t *testing.T) {
	var rights []kfake.ACL
	for _, r := range []struct {
		res kmsg.ACLResourceType
		ops []kmsg.ACLOperation
	}{
		{kmsg.ACLResourceTypeTopic, []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationDescribe, kmsg.ACLOperationDescribeConfigs}},
		{kmsg.ACLResourceTypeGroup, []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationDescribe}},
	} {
		for _, op := range r.ops {
			rights = append(rights, kfake.ACL{Resource: r.res, Name: "*", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true})
		}
	}
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1), kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"),
		kafkatest.Kfake(kfake.EnableACLs(), kfake.User("SCRAM-SHA-256", "reader", "reader-pw", rights...)))
	pair.Source.CreateTopic(t, "orders", 1, nil)
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Value: []byte("first")})
	if failed, err := acls.Create(t.Context(), pair.Source.Client(t), appWrites("orders")); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	spec := saslSpec(t, pair, "weak", "topics: {include: [orders]}\n")
	b, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("username: admin, password: admin-secret"), []byte("username: reader, password: reader-pw"), 1) // the source's
	if err := os.WriteFile(spec, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := kmigrate(t, "mirror", "-f", spec, "--until", "end", "--progress", "never", "--log-level", "warn")
	if code != 0 || !strings.Contains(errOut, "ACL sync failed; the data mirror goes on") || !strings.Contains(errOut, "the migrator may not describe or alter ACLs") {
		t.Fatalf("mirror: exit %d, want 0 with the ACL sync's warning\n%s%s", code, out, errOut)
	}
	if got := len(pair.Target.ConsumeAll(t, "orders")); got != 1 {
		t.Errorf("target orders holds %d records, want 1", got)
	}
}
