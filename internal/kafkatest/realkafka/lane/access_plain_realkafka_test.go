package lane_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestAccessNoAuthorizer: between clusters without an authorizer (Kafka
// answers DescribeAcls with SECURITY_DISABLED), `access plan` says so and
// moves no binding, `access verify` passes, and `access protect` refuses.
func TestAccessNoAuthorizer(t *testing.T) {
	p := pair(t, source4, target4)
	topic := kafkatest.TopicName(t, "orders")
	seedOrders(t, p.Source, topic, 1, 3)
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\n", topic))
	if out := mustRun(t, m.args("access", "plan")...); !strings.Contains(out, "ACLs: 0 source bindings concerning the migration, 0 already on the target, 0 to create, 0 extra on the target, 0 conflicts\n  the source has no authorizer: no bindings to move\n") {
		t.Errorf("access plan:\n%s", out)
	}
	mustRun(t, m.args("access", "verify")...)
	out, errOut, code := run(t, m.args("access", "protect")...)
	if code != 1 || !strings.Contains(errOut, "kmigrate's principal on the target is unknown") {
		t.Errorf("access protect: exit %d, want 1 with a refusal\n%s%s", code, out, errOut)
	}
	// mirror --protect-target refuses the same way before it creates or
	// copies anything.
	out, errOut, code = run(t, m.args("mirror", "--until", "end", "--protect-target")...)
	if code != 1 || !strings.Contains(errOut, "nothing was copied: protect the target: kmigrate's principal on the target is unknown") {
		t.Errorf("mirror --protect-target: exit %d, want 1 with a refusal\n%s%s", code, out, errOut)
	}
	if ts, err := p.Target.Admin(t).ListTopics(t.Context()); err != nil || ts.Has(topic) {
		t.Errorf("the refused mirror created the target topic (%v)", err)
	}
}
