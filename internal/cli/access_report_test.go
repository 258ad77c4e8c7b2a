package cli_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// accessJSON is the access section of plan, status and verify JSON.
type accessJSON struct {
	Access *struct {
		InSync bool       `json:"in_sync"`
		ACLs   *acls.Plan `json:"acls"`
		Users  *struct {
			Missing []struct{ User string } `json:"missing"`
		} `json:"users"`
		Error string `json:"error"`
	} `json:"access"`
}

// plan, status and verify report the ACL bindings, quotas and SCRAM users
// as kmigrate access compares them: before access apply, the binding to
// create and the user missing on the target; after, the bindings equal
// (the user stays missing: apply creates users only from a secrets file).
func TestAccessInPlanStatusVerify(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Value: []byte("a")})
	read := acls.Binding{Resource: kmsg.ACLResourceTypeTopic, Name: "orders", Pattern: kmsg.ACLResourcePatternTypeLiteral,
		Principal: "User:app", Host: "*", Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow}
	if failed, err := acls.Create(t.Context(), pair.Source.Client(t), []acls.Binding{read}); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	if res, err := pair.Source.Admin(t).AlterUserSCRAMs(t.Context(), nil, []kadm.UpsertSCRAM{{User: "app", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "pw"}}); err != nil || res.Error() != nil {
		t.Fatal(err, res.Error())
	}
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	cl := []string{"--source", src, "--target", tgt, "--log-level", "warn"}
	run := func(args ...string) (int, string) {
		t.Helper()
		code, out, stderr := kmigrate(t, append(args, cl...)...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", args, code, out, stderr)
		}
		return code, out
	}
	access := func(args ...string) accessJSON {
		t.Helper()
		_, out := run(append(args, "-o", "json")...)
		var a accessJSON
		if err := json.Unmarshal([]byte(out), &a); err != nil || a.Access == nil {
			t.Fatalf("%q: %v, no access section in\n%s", args, err, out)
		}
		return a
	}
	run("mirror", "--until", "end", "-q", "--acls", "off") // the binding stays for access apply
	const user = "app (SCRAM-SHA-512, 4096 iterations)"

	a := access("plan", "--until", "end")
	if a.Access.InSync || a.Access.Error != "" || len(a.Access.ACLs.Create) != 1 || a.Access.ACLs.Create[0] != read || len(a.Access.Users.Missing) != 1 {
		t.Errorf("plan access %+v, want %v to create and user app missing", a.Access, read)
	}
	if _, out := run("plan", "--until", "end"); !strings.Contains(out, "What kmigrate access apply would do:\nACLs: 1 source binding concerning the migration, 0 already on the target, 1 to create, 0 extra on the target, 0 conflicts\nTo create:\n  "+read.String()+"\n") ||
		!strings.Contains(out, user) {
		t.Errorf("plan text lacks the access section:\n%s", out)
	}
	for _, cmd := range [][]string{{"verify"}, {"status", "--sample", "0"}} {
		if a := access(cmd...); a.Access.InSync || len(a.Access.ACLs.Create) != 1 || a.Access.ACLs.Equal != 0 {
			t.Errorf("%s before apply: access %+v, want 1 binding to create", cmd[0], a.Access)
		}
	}
	_, out := run("status", "--sample", "0")
	wantLine := fmt.Sprintf("ACLs, quotas and users: DIFFERENT (kmigrate access plan lists what kmigrate access apply would do): ACL bindings 0 of 1 on the target, 1 to create, 0 extra, 0 conflicts; quotas 0 equal, 0 to set, 0 extra; users 0 of 1 on the target\nUsers missing on the target: %s\n", user)
	if !strings.Contains(out, wantLine) {
		t.Errorf("status text lacks %q:\n%s", wantLine, out)
	}

	run("access", "apply")
	for _, cmd := range [][]string{{"verify"}, {"status", "--sample", "0"}} {
		if a := access(cmd...); a.Access.InSync || a.Access.ACLs.Equal != 1 || len(a.Access.ACLs.Create) != 0 || len(a.Access.Users.Missing) != 1 {
			t.Errorf("%s after apply: access %+v, want the binding equal and user app still missing", cmd[0], a.Access)
		}
	}
	_, out = run("verify")
	if want := "ACLs, quotas and users: DIFFERENT (kmigrate access plan lists what kmigrate access apply would do): ACL bindings 1 of 1 on the target, 0 to create, 0 extra, 0 conflicts; quotas 0 equal, 0 to set, 0 extra; users 0 of 1 on the target\n"; !strings.Contains(out, want) {
		t.Errorf("verify text lacks %q:\n%s", want, out)
	}
}
