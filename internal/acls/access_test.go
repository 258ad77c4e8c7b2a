package acls_test

import (
	"testing"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/quotas"
	"github.com/kmigrate/kmigrate/internal/users"
)

// Summary is the one line plan, status and verify print: not compared,
// equal, or different with the counts of each plan.
func TestAccessSummary(t *testing.T) {
	b := acls.Binding{Name: "orders", Principal: "User:app", Host: "*"}
	for _, tc := range []struct {
		a    acls.Access
		want string
	}{
		{acls.Access{Error: "ACLs: source: describe ACLs: CLUSTER_AUTHORIZATION_FAILED"}, "not compared: ACLs: source: describe ACLs: CLUSTER_AUTHORIZATION_FAILED"},
		{acls.Access{InSync: true, ACLs: &acls.Plan{Source: 2, Equal: 2}, Quotas: &quotas.Plan{Equal: 1}, Users: &users.Plan{Source: []users.Credential{{User: "app"}}, Equal: 1}},
			"equal on both sides: ACL bindings 2 of 2 on the target, 0 to create, 0 extra, 0 conflicts; quotas 1 equal, 0 to set, 0 extra; users 1 of 1 on the target"},
		{acls.Access{ACLs: &acls.Plan{Source: 3, Equal: 1, Create: []acls.Binding{b, b}, Extra: []acls.Binding{b}, Spills: []acls.Spill{{}}}, Quotas: &quotas.Plan{Set: []quotas.Change{{}}, Extra: []quotas.Quota{{}, {}}},
			Users: &users.Plan{Source: []users.Credential{{User: "app"}, {User: "bob"}}, Equal: 1, Missing: []users.Credential{{User: "bob"}}}},
			"DIFFERENT (kmigrate access plan lists what kmigrate access apply would do): ACL bindings 1 of 3 on the target, 2 to create, 1 extra, 1 conflicts; quotas 0 equal, 1 to set, 2 extra; users 1 of 2 on the target"},
	} {
		if got := tc.a.Summary(); got != tc.want {
			t.Errorf("summary %q\nwant    %q", got, tc.want)
		}
	}
}
