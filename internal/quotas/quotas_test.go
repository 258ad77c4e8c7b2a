package quotas_test

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/quotas"
)

func name(s string) *string { return &s }

func set(t *testing.T, adm *kadm.Client, entity kadm.ClientQuotaEntity, key string, value float64) {
	t.Helper()
	res, err := adm.AlterClientQuotas(t.Context(), []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: []kadm.AlterClientQuotaOp{{Key: key, Value: value}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("set %s %s: %v", entity, key, r.Err)
		}
	}
}

// TestApply copies user, client-id, combined and default quotas, renames a
// user by a principal rule, leaves IP quotas alone, fixes a different
// value, reports and deletes an extra one, and verifies.
func TestApply(t *testing.T) {
	p := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := p.Source.Admin(t), p.Target.Admin(t)
	user := func(n *string) kadm.ClientQuotaEntityComponent {
		return kadm.ClientQuotaEntityComponent{Type: "user", Name: n}
	}
	client := func(n *string) kadm.ClientQuotaEntityComponent {
		return kadm.ClientQuotaEntityComponent{Type: "client-id", Name: n}
	}
	set(t, src, kadm.ClientQuotaEntity{user(name("app"))}, "producer_byte_rate", 1024)
	set(t, src, kadm.ClientQuotaEntity{user(name("old"))}, "consumer_byte_rate", 2048)
	set(t, src, kadm.ClientQuotaEntity{user(nil)}, "request_percentage", 50)
	set(t, src, kadm.ClientQuotaEntity{user(name("app")), client(name("c1"))}, "producer_byte_rate", 512)
	set(t, src, kadm.ClientQuotaEntity{client(nil)}, "consumer_byte_rate", 4096)
	set(t, src, kadm.ClientQuotaEntity{{Type: "ip", Name: name("10.0.0.1")}}, "connection_creation_rate", 10)
	set(t, tgt, kadm.ClientQuotaEntity{user(name("app"))}, "producer_byte_rate", 1)
	set(t, tgt, kadm.ClientQuotaEntity{user(name("stale"))}, "producer_byte_rate", 7)

	cfg := p.Config(t, "quotas")
	cfg.ACLs.Principals = []config.PrincipalRule{{From: "User:old", To: "User:new"}}
	h := p.Open(t, "quotas", cfg)
	plan, err := quotas.Make(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	one := float64(1)
	comp := func(typ string, n *string) quotas.Component { return quotas.Component{Type: typ, Name: n} }
	want := &quotas.Plan{
		Set: []quotas.Change{
			{Quota: quotas.Quota{Entity: []quotas.Component{comp("client-id", nil)}, Key: "consumer_byte_rate", Value: 4096}},
			{Quota: quotas.Quota{Entity: []quotas.Component{comp("client-id", name("c1")), comp("user", name("app"))}, Key: "producer_byte_rate", Value: 512}},
			{Quota: quotas.Quota{Entity: []quotas.Component{comp("user", nil)}, Key: "request_percentage", Value: 50}},
			{Quota: quotas.Quota{Entity: []quotas.Component{comp("user", name("app"))}, Key: "producer_byte_rate", Value: 1024}, Was: &one},
			{Quota: quotas.Quota{Entity: []quotas.Component{comp("user", name("new"))}, Key: "consumer_byte_rate", Value: 2048}},
		},
		Extra: []quotas.Quota{{Entity: []quotas.Component{comp("user", name("stale"))}, Key: "producer_byte_rate", Value: 7}},
	}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("plan:\ngot  %v\nwant %v", plan, want)
	}
	res, err := quotas.Apply(t.Context(), h, plan, true)
	if err != nil || len(res.Set) != 5 || len(res.Removed) != 1 || len(res.Failed) != 0 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	after, err := quotas.Make(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	if !after.InSync() || after.Equal != 5 {
		t.Errorf("after apply: %+v: want in sync with 5 equal", after)
	}
}
