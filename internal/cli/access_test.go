package cli_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
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
