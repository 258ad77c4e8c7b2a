package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
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
	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// produceAs writes one record to topic on c as the SCRAM user app.
func produceAs(t *testing.T, c *kafkatest.Cluster, topic string) error {
	t.Helper()
	cc := c.Config
	cc.SASL = config.SASL{Mechanism: config.ScramSHA256, Username: "app", Password: "app-pw"}
	cl, err := cluster.NewClient(&cc, nil, kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("app")}).FirstErr()
}

// saslSpec writes a migration spec named name between pair's clusters as
// the SCRAM user admin, with extra appended.
func saslSpec(t *testing.T, pair *kafkatest.Pair, name, extra string) string {
	t.Helper()
	side := func(c *kafkatest.Cluster) string {
		return fmt.Sprintf("  bootstrap: %s\n  security_protocol: SASL_PLAINTEXT\n  sasl: {mechanism: SCRAM-SHA-256, username: admin, password: admin-secret}\n", c.Addrs[0])
	}
	return write(t, t.TempDir(), "m.yaml", "name: "+name+"\nsource:\n"+side(pair.Source)+"target:\n"+side(pair.Target)+extra)
}

// protectFixture is a pair of kfake clusters enforcing ACLs, with the
// topics orders and payments (one record each) on the source, the SCRAM
// user app allowed to write and describe both there (copied, the bindings
// the target should end with), and a spec for migration name.
func protectFixture(t *testing.T, name string) (*kafkatest.Pair, []acls.Binding, string) {
	t.Helper()
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
	return pair, copied, saslSpec(t, pair, name, "topics: {include: [orders, payments]}\ngroups: {sync: false}\n")
}

// assertOnlyCopied fails unless the target's bindings are exactly copied:
// none of kmigrate's guards left.
func assertOnlyCopied(t *testing.T, pair *kafkatest.Pair, copied []acls.Binding) {
	t.Helper()
	got, err := acls.Read(t.Context(), pair.Target.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	cmp := func(a, b acls.Binding) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(copied, cmp)
	if !reflect.DeepEqual(got, copied) {
		t.Errorf("target bindings:\n%v\nwant only the copied ones:\n%v", got, copied)
	}
}

// TestMirrorProtectTarget: mirror --protect-target denies the
// application's writes to the target topics from before the first copy,
// releases each topic's guard once it is promoted, and when every topic is
// promoted (the mirror then stops by itself) leaves none of its bindings.
func TestMirrorProtectTarget(t *testing.T) {
	pair, copied, spec := protectFixture(t, "guarded")
	must := func(args ...string) {
		t.Helper()
		if code, out, errOut := kmigrate(t, append(args, "-f", spec, "--log-level", "warn")...); code != 0 {
			t.Fatalf("kmigrate %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	must("access", "apply")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"mirror", "-f", spec, "--protect-target", "--progress", "never", "--log-level", "warn"}, bytes.NewReader(nil), &out, &errOut)
	}()
	waitFor(t, "the first records copied", func() bool {
		ts, err := pair.Target.Admin(t).ListTopics(t.Context())
		return err == nil && ts.Has("orders") && ts.Has("payments") &&
			len(pair.Target.ConsumeAll(t, "orders")) == 1 && len(pair.Target.ConsumeAll(t, "payments")) == 1
	})
	for _, topic := range []string{"orders", "payments"} {
		if err := produceAs(t, pair.Target, topic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("app writes to the mirrored target topic %s: %v, want TOPIC_AUTHORIZATION_FAILED", topic, err)
		}
	}

	must("promote", "--topic", "orders", "--force")
	waitFor(t, "the promoted topic writable", func() bool { return produceAs(t, pair.Target, "orders") == nil })
	if err := produceAs(t, pair.Target, "payments"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("app writes to payments, still mirrored: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	must("promote", "--topic", "payments", "--force")
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("mirror exited %d\n%s%s", code, out.String(), errOut.String())
		}
	case <-time.After(2 * time.Minute): // hang guard: every topic promoted ends the mirror
		t.Fatalf("the mirror did not stop once every topic was promoted\n%s%s", out.String(), errOut.String())
	}
	assertOnlyCopied(t, pair, copied)
}

// TestMirrorProtectTargetUnknownPrincipal: guards exempt the migrator by
// its principal; a target connection without one (no SASL, no TLS client
// certificate) refuses --protect-target, naming the fix, and nothing is
// created or copied.
func TestMirrorProtectTargetUnknownPrincipal(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, nil)
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Value: []byte("first")})
	code, _, errOut := kmigrate(t, "mirror", "--source", pair.Source.Addrs[0], "--target", pair.Target.Addrs[0], "--topics", "orders",
		"--until", "end", "--protect-target", "--progress", "never", "--log-level", "warn")
	if code != 1 || !strings.Contains(errOut, "migration blocked; nothing was copied: protect the target: kmigrate's principal on the target is unknown") ||
		!strings.Contains(errOut, "connect to the target with a SASL user") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 naming the unknown principal and the fix", code, errOut)
	}
	topics, err := pair.Target.Admin(t).ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("orders") {
		t.Errorf("the refused mirror created the target topic")
	}
}

// waitFor polls ok until it holds (a hang guard of two minutes, not a
// timing assertion).
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after two minutes", what)
		}
	}
}
