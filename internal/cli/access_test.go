package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/cli"
	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestAccessCommand: plan lists the bindings to create (mapped by the
// spec's principal rule and --topic-prefix), verify fails until apply
// wrote them, and apply is idempotent.
func TestAccessCommand(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, nil)
	read := acls.Binding{Resource: kmsg.ACLResourceTypeTopic, Name: "orders", Pattern: kmsg.ACLResourcePatternTypeLiteral,
		Principal: "User:old", Host: "*", Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow}
	if failed, err := acls.Create(t.Context(), pair.Source.Client(t), []acls.Binding{read}); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	spec := write(t, t.TempDir(), "m.yaml", fmt.Sprintf(`source: {bootstrap: %s}
target: {bootstrap: %s}
topics: {include: [orders]}
acls:
  principals: ["User:old -> User:new"]
`, pair.Source.Addrs[0], pair.Target.Addrs[0]))
	args := func(verb string, more ...string) []string {
		return append([]string{"access", verb, "-f", spec, "--topic-prefix", "m.", "--log-level", "warn"}, more...)
	}
	want := "ALLOW User:new@* READ TOPIC m.orders (LITERAL)"

	code, out, errOut := kmigrate(t, args("plan")...)
	if code != 0 || !strings.Contains(out, "ACLs: 1 source binding concerning the migration, 0 already on the target, 1 to create, 0 extra on the target, 0 conflicts\nTo create:\n  "+want+"\n") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := kmigrate(t, args("verify")...); code != 1 || !strings.Contains(out, "DIFFERENT") {
		t.Errorf("verify before apply: exit %d\n%s", code, out)
	}
	if code, out, errOut := kmigrate(t, args("apply")...); code != 0 || !strings.Contains(out, "Created:\n  "+want+"\n") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = kmigrate(t, args("verify", "-o", "json")...)
	var r struct {
		InSync bool       `json:"in_sync"`
		ACLs   *acls.Plan `json:"acls"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("verify json: %v\n%s", err, out)
	}
	if code != 0 || !r.InSync || r.ACLs.Equal != 1 || len(r.ACLs.Create) != 0 {
		t.Errorf("verify after apply: exit %d\n%s", code, out)
	}
	if code, out, _ := kmigrate(t, args("apply")...); code != 0 || strings.Contains(out, "Created:") {
		t.Errorf("second apply: exit %d\n%s", code, out)
	}
}

// TestAccessUsersSecret: apply creates a missing SCRAM user from
// --users-secrets and copies a quota; the password appears in no output
// or log line, in text or JSON, at debug level; verify then passes.
func TestAccessUsersSecret(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1), kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"))
	src := pair.Source.Admin(t)
	if res, err := src.AlterUserSCRAMs(t.Context(), nil, []kadm.UpsertSCRAM{{User: "app", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "source-pw"}}); err != nil || res.Error() != nil {
		t.Fatal(err, res.Error())
	}
	app := "app"
	if res, err := src.AlterClientQuotas(t.Context(), []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &app}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1024}},
	}}); err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	dir := t.TempDir()
	const secret = "s3cret-Only-In-The-File"
	secrets := write(t, dir, "secrets.yaml", "app: "+secret+"\n")
	spec := write(t, dir, "m.yaml", fmt.Sprintf(`source:
  bootstrap: %s
  security_protocol: SASL_PLAINTEXT
  sasl: {mechanism: SCRAM-SHA-256, username: admin, password: admin-secret}
target:
  bootstrap: %s
  security_protocol: SASL_PLAINTEXT
  sasl: {mechanism: SCRAM-SHA-256, username: admin, password: admin-secret}
`, pair.Source.Addrs[0], pair.Target.Addrs[0]))
	args := func(verb string, more ...string) []string {
		return append([]string{"access", verb, "-f", spec, "--log-level", "debug"}, more...)
	}
	code, out, errOut := kmigrate(t, args("plan")...)
	if code != 0 || !strings.Contains(out, "Quotas: 0 equal on both sides, 1 to set, 0 extra on the target\n  set {user=app} producer_byte_rate=1024\n") ||
		!strings.Contains(out, "SCRAM users: 2 source credentials, 1 on the target, 1 missing\n  missing on the target: app (SCRAM-SHA-512, 4096 iterations)\n") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	for _, output := range []string{"json", "text"} {
		code, out, errOut = kmigrate(t, args("apply", "--users-secrets", secrets, "-o", output)...)
		if code != 0 {
			t.Fatalf("apply -o %s: exit %d\n%s%s", output, code, out, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("apply -o %s printed the secret:\n%s%s", output, out, errOut)
		}
		if output == "json" && !strings.Contains(errOut, "created SCRAM user") {
			t.Errorf("apply -o json did not log the created user:\n%s", errOut)
		}
	}
	if code, out, _ := kmigrate(t, args("verify")...); code != 0 || !strings.Contains(out, "OK: the target holds the source's bindings and quotas for the migration, and every source user.") {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	cc := pair.Target.Config
	cc.SASL = config.SASL{Mechanism: config.ScramSHA512, Username: "app", Password: config.Secret(secret)}
	cl, err := cluster.Connect(t.Context(), &cc, nil)
	if err != nil {
		t.Fatalf("app cannot authenticate on the target: %v", err)
	}
	cl.Close()
}

// TestAccessUsersScript prints the script for a user the target lacks.
func TestAccessUsersScript(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1), kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"))
	if res, err := pair.Source.Admin(t).AlterUserSCRAMs(t.Context(), nil, []kadm.UpsertSCRAM{{User: "app", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "pw"}}); err != nil || res.Error() != nil {
		t.Fatal(err, res.Error())
	}
	spec := write(t, t.TempDir(), "m.yaml", fmt.Sprintf(`source:
  bootstrap: %s
  security_protocol: SASL_PLAINTEXT
  sasl: {mechanism: SCRAM-SHA-256, username: admin, password: admin-secret}
target:
  bootstrap: %s
  security_protocol: SASL_PLAINTEXT
  sasl: {mechanism: SCRAM-SHA-256, username: admin, password: admin-secret}
`, pair.Source.Addrs[0], pair.Target.Addrs[0]))
	code, out, errOut := kmigrate(t, "access", "users-script", "-f", spec, "--log-level", "warn")
	want := fmt.Sprintf(": \"${KMIGRATE_PW_app:?set the password of app}\"\nkafka-configs.sh --bootstrap-server '%s' --alter --entity-type users --entity-name 'app' \\\n"+
		"  --add-config \"SCRAM-SHA-512=[iterations=4096,password=${KMIGRATE_PW_app}]\" \"$@\"\n", pair.Target.Addrs[0])
	if code != 0 || !strings.HasSuffix(out, want) || strings.Count(out, "kafka-configs.sh --") != 1 {
		t.Errorf("users-script: exit %d\n%s%s\nwant it to end with\n%s", code, out, errOut, want)
	}
}

// TestAccessApplyWatch: apply --watch --delete-extra follows a binding
// added on the source, then its removal, and exits 0 when stopped.
func TestAccessApplyWatch(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, nil)
	src, tgt := pair.Source.Client(t), pair.Target.Client(t)
	b := acls.Binding{Resource: kmsg.ACLResourceTypeTopic, Name: "orders", Pattern: kmsg.ACLResourcePatternTypeLiteral,
		Principal: "User:app", Host: "*", Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- cli.Main(ctx, []string{"access", "apply", "--source", pair.Source.Addrs[0], "--target", pair.Target.Addrs[0],
			"--topics", "orders", "--watch", "50ms", "--delete-extra", "--log-level", "warn"}, strings.NewReader(""), io.Discard, &stderr)
	}()
	// waitFor polls the target until it holds want (the loop's interval
	// is 50ms; 30s is only the bound on a failure).
	waitFor := func(want []acls.Binding) {
		t.Helper()
		var got []acls.Binding
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var err error
			if got, err = acls.Read(t.Context(), tgt); err == nil && reflect.DeepEqual(got, want) {
				return
			}
		}
		t.Fatalf("target bindings %v, want %v\n%s", got, want, stderr.String())
	}
	if failed, err := acls.Create(t.Context(), src, []acls.Binding{b}); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	waitFor([]acls.Binding{b})
	if failed, err := acls.Delete(t.Context(), src, []acls.Binding{b}); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	waitFor(nil)
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("apply --watch stopped with exit %d\n%s", code, stderr.String())
	}
}
