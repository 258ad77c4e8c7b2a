package acls_test

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/topics"
)

const (
	topic   = kmsg.ACLResourceTypeTopic
	group   = kmsg.ACLResourceTypeGroup
	txnID   = kmsg.ACLResourceTypeTransactionalId
	cluster = kmsg.ACLResourceTypeCluster
	literal = kmsg.ACLResourcePatternTypeLiteral
	prefix  = kmsg.ACLResourcePatternTypePrefixed
	allow   = kmsg.ACLPermissionTypeAllow
	deny    = kmsg.ACLPermissionTypeDeny
	read    = kmsg.ACLOperationRead
	write   = kmsg.ACLOperationWrite
)

// bind is a binding from any host.
func bind(perm kmsg.ACLPermissionType, principal string, op kmsg.ACLOperation, res kmsg.ACLResourceType, name string, pat kmsg.ACLResourcePatternType) acls.Binding {
	return acls.Binding{Resource: res, Name: name, Pattern: pat, Principal: principal, Host: "*", Operation: op, Permission: perm}
}

func TestMap(t *testing.T) {
	for _, c := range []struct {
		name   string
		naming config.Topics
		in     acls.Binding
		want   string
	}{
		{"literal, no rule", config.Topics{}, bind(allow, "User:a", read, topic, "orders", literal), "orders"},
		{"literal, prefix", config.Topics{Prefix: "m."}, bind(allow, "User:a", read, topic, "orders", literal), "m.orders"},
		{"literal, rename", config.Topics{Rename: "x.{topic}.v2"}, bind(allow, "User:a", read, topic, "orders", literal), "x.orders.v2"},
		{"prefixed, prefix", config.Topics{Prefix: "m."}, bind(allow, "User:a", read, topic, "ord", prefix), "m.ord"},
		{"prefixed, rename keeps what precedes {topic}", config.Topics{Rename: "x.{topic}.v2"}, bind(allow, "User:a", read, topic, "ord", prefix), "x.ord"},
		{"wildcard stays", config.Topics{Prefix: "m."}, bind(allow, "User:a", read, topic, "*", literal), "*"},
		{"groups keep names", config.Topics{Prefix: "m."}, bind(allow, "User:a", read, group, "g", literal), "g"},
		{"transactional ids keep names", config.Topics{Prefix: "m."}, bind(allow, "User:a", write, txnID, "tx-", prefix), "tx-"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rules := config.ACLs{Principals: []config.PrincipalRule{{From: "User:a", To: "User:b"}}}
			got := acls.Map(c.in, c.naming, rules)
			want := c.in
			want.Name, want.Principal = c.want, "User:b"
			if got != want {
				t.Errorf("Map(%s) = %s, want %s", c.in, got, want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	naming := config.Topics{Prefix: "m."}
	scope := func(allowSpill bool) acls.Scope {
		return acls.Scope{
			Topics:       []topics.Mapping{{Source: "orders", Target: "m.orders"}, {Source: "payments", Target: "m.payments"}},
			Groups:       []string{"group-a"},
			TargetTopics: []string{"m.orders", "m.payments", "m.ordinals", "__kmigrate-x", "audit"},
			Naming:       naming,
			Rules:        config.ACLs{Principals: []config.PrincipalRule{{From: "User:old", To: "User:new"}}, AllowSpill: allowSpill},
			Migrator:     "User:migrator",
		}
	}
	source := []acls.Binding{
		bind(allow, "User:app", read, topic, "orders", literal),
		bind(allow, "User:app", write, topic, "ord", prefix),      // spills onto m.ordinals
		bind(deny, "User:app", write, topic, "payments", literal), // DENY copied
		bind(allow, "User:old", read, topic, "payments", literal), // mapped principal
		bind(allow, "User:app", read, topic, "other", literal),    // not selected
		bind(allow, "User:app", read, topic, "pay", prefix),       // covers payments, spills nowhere
		bind(allow, "User:app", read, group, "group-a", literal),  // selected group
		bind(allow, "User:app", read, group, "group-x", literal),  // not selected
		bind(allow, "User:app", write, txnID, "tx-", prefix),      // every txn id binding
		bind(allow, "User:app", kmsg.ACLOperationIdempotentWrite, cluster, "kafka-cluster", literal),
	}
	target := []acls.Binding{
		bind(allow, "User:app", read, topic, "m.orders", literal),   // equal already
		bind(allow, "User:stale", read, topic, "m.orders", literal), // extra
		bind(allow, "User:migrator", write, topic, "m.", prefix),    // the migrator's own: never extra
		bind(allow, "User:x", read, topic, "audit", literal),        // not the migration's
	}
	want := func(allowSpill bool) *acls.Plan {
		spilled := bind(allow, "User:app", write, topic, "m.ord", prefix)
		p := &acls.Plan{
			Source: 8,
			Equal:  1,
			Create: []acls.Binding{
				bind(allow, "User:app", read, topic, "m.pay", prefix),
				bind(deny, "User:app", write, topic, "m.payments", literal),
				bind(allow, "User:new", read, topic, "m.payments", literal),
				bind(allow, "User:app", read, group, "group-a", literal),
				bind(allow, "User:app", kmsg.ACLOperationIdempotentWrite, cluster, "kafka-cluster", literal),
				bind(allow, "User:app", write, txnID, "tx-", prefix),
			},
			Extra: []acls.Binding{bind(allow, "User:stale", read, topic, "m.orders", literal)},
			Spills: []acls.Spill{{
				Source: bind(allow, "User:app", write, topic, "ord", prefix), Target: spilled,
				Outside: []string{"m.ordinals"}, Allowed: allowSpill,
			}},
		}
		if allowSpill {
			p.Create = append([]acls.Binding{spilled}, p.Create...)
		}
		return p
	}
	for _, allowSpill := range []bool{false, true} {
		got := acls.Diff(source, target, scope(allowSpill))
		if w := want(allowSpill); !reflect.DeepEqual(got, w) {
			t.Errorf("allow spill %v:\ngot  %+v\nwant %+v", allowSpill, got, w)
		}
		if got.InSync() {
			t.Errorf("allow spill %v: InSync with bindings to create", allowSpill)
		}
	}
}

func TestInSync(t *testing.T) {
	b := bind(allow, "User:app", read, topic, "*", literal)
	sc := acls.Scope{Topics: []topics.Mapping{{Source: "a", Target: "a"}}, TargetTopics: []string{"a", "b"}}
	if p := acls.Diff([]acls.Binding{b}, []acls.Binding{b}, sc); !p.InSync() || p.Equal != 0 || len(p.Spills) != 1 || !p.Spills[0].OnTarget {
		t.Errorf("wildcard on both sides, not allowed to spill: %+v: want in sync, one spill on the target", p)
	}
	if p := acls.Diff([]acls.Binding{b}, nil, sc); p.InSync() {
		t.Errorf("wildcard missing on the target: %+v: want not in sync", p)
	}
	sc.TargetTopics = []string{"a"}
	if p := acls.Diff([]acls.Binding{b}, []acls.Binding{b}, sc); !p.InSync() || p.Equal != 1 || len(p.Spills) != 0 {
		t.Errorf("wildcard with no topic outside: %+v: want in sync, equal 1", p)
	}
}

func TestNoAuthorizer(t *testing.T) {
	if p := acls.NoAuthorizer(nil, "no source authorizer"); !p.InSync() || p.Reason != "no source authorizer" || len(p.Unheld) != 0 {
		t.Errorf("source without an authorizer: %+v: want in sync, nothing unheld", p)
	}
	b := bind(allow, "User:a", read, topic, "orders", literal)
	s := bind(allow, "User:a", read, topic, "o", prefix)
	in := &acls.Plan{Source: 2, Create: []acls.Binding{b}, Spills: []acls.Spill{{Target: s}}}
	p := acls.NoAuthorizer(in, "no target authorizer")
	want := &acls.Plan{Source: 2, Create: []acls.Binding{}, Extra: []acls.Binding{}, Spills: []acls.Spill{}, Unheld: []acls.Binding{s, b}, Reason: "no target authorizer"}
	if !reflect.DeepEqual(p, want) || p.InSync() {
		t.Errorf("target without an authorizer:\ngot  %+v\nwant %+v, not in sync", p, want)
	}
}
