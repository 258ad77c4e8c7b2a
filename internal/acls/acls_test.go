package acls_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// newPair starts two kfake clusters that enforce ACLs, with "admin" as
// their superuser.
func newPair(t *testing.T) *kafkatest.Pair {
	t.Helper()
	return kafkatest.NewPair(t, kafkatest.Brokers(1),
		kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"),
		kafkatest.Kfake(kfake.EnableACLs()))
}

func mustCreate(t *testing.T, cl *kgo.Client, bs ...acls.Binding) {
	t.Helper()
	failed, err := acls.Create(t.Context(), cl, bs)
	if err != nil || len(failed) > 0 {
		t.Fatalf("create %v: %v %v", bs, err, failed)
	}
}

func readSorted(t *testing.T, cl *kgo.Client) []acls.Binding {
	t.Helper()
	bs, err := acls.Read(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(bs, func(a, b acls.Binding) int {
		return compareStrings(a.String(), b.String())
	})
	return bs
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestApply copies a source's bindings to a target under a prefix rule and
// a principal rule, with an extra target binding and a prefixed binding
// that spills onto a target topic outside the migration; then verifies.
func TestApply(t *testing.T) {
	p := newPair(t)
	for _, name := range []string{"orders", "payments", "other"} {
		p.Source.CreateTopic(t, name, 1, nil)
	}
	p.Target.CreateTopic(t, "m.ordinals", 1, nil)
	p.Source.CommitOffsets(t, "group-a", map[string]map[int32]int64{"orders": {0: 0}})
	p.Source.CommitOffsets(t, "group-x", map[string]map[int32]int64{"orders": {0: 0}})
	src, tgt := p.Source.Client(t), p.Target.Client(t)
	mustCreate(t, src,
		bind(allow, "User:app", read, topic, "orders", literal),
		bind(allow, "User:app", write, topic, "ord", prefix),
		bind(deny, "User:app", write, topic, "payments", literal),
		bind(allow, "User:old", read, topic, "payments", literal),
		bind(allow, "User:app", read, topic, "other", literal),
		bind(allow, "User:app", read, group, "group-a", literal),
		bind(allow, "User:app", read, group, "group-x", literal),
		bind(allow, "User:app", write, txnID, "tx-", prefix),
		bind(allow, "User:app", kmsg.ACLOperationIdempotentWrite, cluster, "kafka-cluster", literal),
	)
	mustCreate(t, tgt, bind(allow, "User:stale", read, topic, "m.orders", literal))

	cfg := p.Config(t, "acls")
	var err error
	if cfg.Topics.Selection, err = config.NewSelection([]string{"orders|payments"}, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Groups.Selection, err = config.NewSelection([]string{"group-a"}, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Topics.Prefix = "m."
	cfg.ACLs.Principals = []config.PrincipalRule{{From: "User:old", To: "User:new"}}
	h := p.Open(t, "acls", cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	plan, err := acls.Make(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	spilled := bind(allow, "User:app", write, topic, "m.ord", prefix)
	want := &acls.Plan{
		Source: 7,
		Create: []acls.Binding{
			bind(allow, "User:app", read, topic, "m.orders", literal),
			bind(deny, "User:app", write, topic, "m.payments", literal),
			bind(allow, "User:new", read, topic, "m.payments", literal),
			bind(allow, "User:app", read, group, "group-a", literal),
			bind(allow, "User:app", kmsg.ACLOperationIdempotentWrite, cluster, "kafka-cluster", literal),
			bind(allow, "User:app", write, txnID, "tx-", prefix),
		},
		Extra: []acls.Binding{bind(allow, "User:stale", read, topic, "m.orders", literal)},
		Spills: []acls.Spill{{
			Source: bind(allow, "User:app", write, topic, "ord", prefix), Target: spilled,
			Outside: []string{"m.ordinals"},
		}},
	}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("plan:\ngot  %+v\nwant %+v", plan, want)
	}

	res, err := acls.Apply(ctx, h, plan, acls.Options{DeleteExtra: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Created, want.Create) || !reflect.DeepEqual(res.Deleted, want.Extra) || len(res.Failed) != 0 {
		t.Fatalf("apply: %+v", res)
	}
	// Re-running finds only the spill, which is not allowed.
	again, err := acls.Make(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if again.Equal != 6 || len(again.Create) != 0 || len(again.Extra) != 0 || len(again.Spills) != 1 || again.InSync() {
		t.Fatalf("after apply: %+v: want 6 equal, nothing to do, the spill reported and not in sync", again)
	}
	if res, err := acls.Apply(ctx, h, again, acls.Options{DeleteExtra: true}); err != nil || len(res.Created)+len(res.Deleted) != 0 {
		t.Fatalf("second apply: %+v, %v: want nothing done", res, err)
	}

	// Allowing the spill writes it; then both sides agree.
	cfg.ACLs.AllowSpill = true
	allowed, err := acls.Make(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(allowed.Create, []acls.Binding{spilled}) {
		t.Fatalf("with allow_spill: create %v, want %v", allowed.Create, spilled)
	}
	if _, err := acls.Apply(ctx, h, allowed, acls.Options{}); err != nil {
		t.Fatal(err)
	}
	final, err := acls.Make(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !final.InSync() || final.Equal != 7 {
		t.Fatalf("final: %+v: want in sync with 7 equal", final)
	}
	wantTarget := append(slices.Clone(want.Create), spilled)
	slices.SortFunc(wantTarget, func(a, b acls.Binding) int { return compareStrings(a.String(), b.String()) })
	if got := readSorted(t, tgt); !reflect.DeepEqual(got, wantTarget) {
		t.Errorf("target bindings:\ngot  %v\nwant %v", got, wantTarget)
	}
}

// TestRefused reports a binding the target refuses, with the reason, and
// creates the rest.
func TestRefused(t *testing.T) {
	p := newPair(t)
	h := p.Open(t, "refused", nil)
	good := bind(allow, "User:app", read, topic, "t", literal)
	bad := bind(allow, "User:app", kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeDelegationToken, "t", literal) // kfake holds none
	res, err := acls.Apply(t.Context(), h, &acls.Plan{Create: []acls.Binding{good, bad}}, acls.Options{})
	if !errors.Is(err, acls.ErrRefused) {
		t.Fatalf("apply: %v, want ErrRefused", err)
	}
	if !reflect.DeepEqual(res.Created, []acls.Binding{good}) || len(res.Failed) != 1 || res.Failed[0].Binding != bad || res.Failed[0].Reason != "INVALID_REQUEST: invalid resource type" || !errors.Is(res.Failed[0].Err, kerr.InvalidRequest) {
		t.Errorf("apply: %+v", res)
	}
}

// TestProtectNotAllowed: a migrator without ALTER on the target cluster
// gets ErrNotAllowed from Protect, and nothing is written.
func TestProtectNotAllowed(t *testing.T) {
	describe := kfake.ACL{Resource: cluster, Name: "kafka-cluster", Pattern: literal, Operation: kmsg.ACLOperationDescribe, Allow: true}
	describeTopics := kfake.ACL{Resource: topic, Name: "*", Pattern: literal, Operation: kmsg.ACLOperationDescribe, Allow: true}
	writeOrders := kfake.ACL{Resource: topic, Name: "orders", Pattern: literal, Operation: write, Allow: true}
	p := kafkatest.NewPair(t, kafkatest.Brokers(1),
		kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"),
		kafkatest.Kfake(kfake.EnableACLs(),
			kfake.User("SCRAM-SHA-256", "weak", "weak-pw", describe, describeTopics, kfake.ACL{Resource: group, Name: "*", Pattern: literal, Operation: kmsg.ACLOperationDescribe, Allow: true}),
			kfake.User("SCRAM-SHA-256", "app", "app-pw", writeOrders)))
	p.Source.CreateTopic(t, "orders", 1, nil)
	cfg := p.Config(t, "weak")
	cfg.Target.SASL = config.SASL{Mechanism: config.ScramSHA256, Username: "weak", Password: "weak-pw"}
	h := p.Open(t, "weak", cfg)
	before := readSorted(t, p.Target.Client(t))
	prot, err := acls.Protect(t.Context(), h)
	if !errors.Is(err, acls.ErrNotAllowed) || !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("protect as weak: %v, want ErrNotAllowed", err)
	}
	if len(prot.Added) != 0 || len(prot.Failed) != 1 || prot.Failed[0].Binding.Principal != "User:app" {
		t.Errorf("protect as weak: %+v", prot)
	}
	if after := readSorted(t, p.Target.Client(t)); !reflect.DeepEqual(after, before) {
		t.Errorf("target bindings changed: %v, were %v", after, before)
	}
}

// TestProtectUnknownMigrator: without a SASL user kmigrate cannot tell
// its own principal, and refuses to guard (Release still works).
func TestProtectUnknownMigrator(t *testing.T) {
	p := kafkatest.NewPair(t, kafkatest.Brokers(1))
	h := p.Open(t, "plain", nil)
	if _, err := acls.Protect(t.Context(), h); !errors.Is(err, acls.ErrUnknownMigrator) {
		t.Errorf("protect: %v, want ErrUnknownMigrator", err)
	}
	if _, err := acls.Release(t.Context(), h); err != nil {
		t.Errorf("release: %v", err)
	}
}
