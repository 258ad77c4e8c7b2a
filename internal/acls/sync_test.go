package acls_test

import (
	"context"
	"errors"
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
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
)

func mustDelete(t *testing.T, cl *kgo.Client, bs ...acls.Binding) {
	t.Helper()
	failed, err := acls.Delete(t.Context(), cl, bs)
	if err != nil || len(failed) > 0 {
		t.Fatalf("delete %v: %v %v", bs, err, failed)
	}
}

func sorted(bs ...acls.Binding) []acls.Binding {
	out := slices.Clone(bs)
	slices.SortFunc(out, func(a, b acls.Binding) int { return compareStrings(a.String(), b.String()) })
	return out
}

// syncOnce runs one pass and checks what it created and removed.
func syncOnce(t *testing.T, s *acls.Syncer, created, removed []acls.Binding) *acls.SyncResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := s.Sync(ctx)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if created == nil {
		created = []acls.Binding{}
	}
	if removed == nil {
		removed = []acls.Binding{}
	}
	if !reflect.DeepEqual(sorted(r.Created...), sorted(created...)) || !reflect.DeepEqual(sorted(r.Removed...), sorted(removed...)) || len(r.Failed) != 0 || r.Error != "" {
		t.Fatalf("sync:\ncreated %v, removed %v, failed %v, error %q\nwant created %v, removed %v", r.Created, r.Removed, r.Failed, r.Error, created, removed)
	}
	return r
}

// TestSync: the mirror's ACL sync creates the mapped bindings, follows
// additions and removals on the source, removes only bindings it created
// (not a target-only binding, not one the target held before), holds back
// a spilling prefix, changes nothing when run again, and a new Syncer (a
// restarted mirror) still knows which bindings it created.
func TestSync(t *testing.T) {
	p := newPair(t)
	for _, name := range []string{"orders", "payments"} {
		p.Source.CreateTopic(t, name, 1, nil)
	}
	p.Target.CreateTopic(t, "m.ordinals", 1, nil)
	src, tgt := p.Source.Client(t), p.Target.Client(t)
	readOrders := bind(allow, "User:app", read, topic, "orders", literal)
	oldPayments := bind(allow, "User:old", read, topic, "payments", literal)
	describeOrders := bind(allow, "User:app", kmsg.ACLOperationDescribe, topic, "orders", literal)
	spilling := bind(allow, "User:app", write, topic, "ord", prefix)
	mustCreate(t, src, readOrders, oldPayments, describeOrders, spilling)
	held := bind(allow, "User:app", kmsg.ACLOperationDescribe, topic, "m.orders", literal) // the target's own, equal to a mapped one
	targetOnly := bind(allow, "User:ops", read, topic, "m.orders", literal)
	mustCreate(t, tgt, held, targetOnly)

	cfg := p.Config(t, "sync")
	var err error
	if cfg.Topics.Selection, err = config.NewSelection([]string{"orders|payments"}, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Topics.Prefix = "m."
	cfg.ACLs.Principals = []config.PrincipalRule{{From: "User:old", To: "User:new"}}
	h := p.Open(t, "sync", cfg)

	mReadOrders := bind(allow, "User:app", read, topic, "m.orders", literal)
	newPayments := bind(allow, "User:new", read, topic, "m.payments", literal)
	s := acls.NewSyncer(h, 0)
	if s.Interval() != acls.DefaultSyncInterval {
		t.Errorf("interval %s, want the default %s", s.Interval(), acls.DefaultSyncInterval)
	}
	r := syncOnce(t, s, []acls.Binding{mReadOrders, newPayments}, nil)
	if len(r.HeldBack) != 1 || r.HeldBack[0].Target != bind(allow, "User:app", write, topic, "m.ord", prefix) ||
		!reflect.DeepEqual(r.HeldBack[0].Outside, []string{"m.ordinals"}) || r.Equal != 1 || r.Owned != 2 {
		t.Errorf("first sync: held back %v, %d equal, %d owned; want the m.ord prefix held back, 1 equal, 2 owned", r.HeldBack, r.Equal, r.Owned)
	}
	if got, want := readSorted(t, tgt), sorted(held, targetOnly, mReadOrders, newPayments); !reflect.DeepEqual(got, want) {
		t.Fatalf("target after the first sync:\ngot  %v\nwant %v", got, want)
	}
	syncOnce(t, s, nil, nil) // idempotent
	// ... and a pass that changes nothing writes no state record.
	before := stateEnd(t, h)
	syncOnce(t, s, nil, nil)
	if after := stateEnd(t, h); after != before {
		t.Errorf("state topic end %d after a pass with nothing new, want %d (unchanged)", after, before)
	}

	denyPayments := bind(deny, "User:app", write, topic, "payments", literal)
	mustCreate(t, src, denyPayments)
	mDenyPayments := bind(deny, "User:app", write, topic, "m.payments", literal)
	syncOnce(t, s, []acls.Binding{mDenyPayments}, nil)

	// Removed on the source: kmigrate's binding goes, the one the target
	// held before stays.
	mustDelete(t, src, readOrders, describeOrders)
	syncOnce(t, s, nil, []acls.Binding{mReadOrders})
	syncOnce(t, s, nil, nil)

	// A restarted mirror reads what it created from the state.
	restarted := acls.NewSyncer(h, time.Minute)
	syncOnce(t, restarted, nil, nil)
	mustDelete(t, src, oldPayments)
	r = syncOnce(t, restarted, nil, []acls.Binding{newPayments})
	if r.Owned != 1 {
		t.Errorf("owned after the restart: %d, want 1 (the DENY)", r.Owned)
	}
	if got, want := readSorted(t, tgt), sorted(held, targetOnly, mDenyPayments); !reflect.DeepEqual(got, want) {
		t.Errorf("target at the end:\ngot  %v\nwant %v", got, want)
	}

	// status and verify show the last result from the state.
	a, err := acls.Compare(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	if a.Sync == nil || !reflect.DeepEqual(a.Sync.Removed, []acls.Binding{newPayments}) || a.Sync.Owned != 1 || len(a.Sync.HeldBack) != 1 {
		t.Errorf("compare's sync result: %+v", a.Sync)
	}
	if !strings.Contains(a.Summary(), "; mirror's last ACL sync at ") || !strings.Contains(a.Summary(), ": 0 created, 1 removed, 1 held back, 0 failed; 1 equal, 1 created by kmigrate on record") {
		t.Errorf("summary: %s", a.Summary())
	}
}

// TestSyncNothingToDo: a source without bindings (kfake without ACLs
// holds none) is noted, not an error, and writes nothing.
func TestSyncNothingToDo(t *testing.T) {
	p := kafkatest.NewPair(t, kafkatest.Brokers(1))
	h := p.Open(t, "plain", nil)
	r, err := acls.NewSyncer(h, 0).Sync(t.Context())
	if err != nil || r.Note != "no bindings on the source concern the migration" || len(r.Created) != 0 {
		t.Fatalf("sync: %+v, %v", r, err)
	}
	if _, err := h.LoadState(t.Context()); err == nil {
		t.Errorf("the sync created a state topic for nothing")
	}
}

// TestSyncNotAllowed: a migrator that may not describe ACLs on the source
// gets ErrSyncNotAllowed, in the error and the result, and nothing is
// written to the target.
func TestSyncNotAllowed(t *testing.T) {
	describeTopics := kfake.ACL{Resource: topic, Name: "*", Pattern: literal, Operation: kmsg.ACLOperationDescribe, Allow: true}
	describeGroups := kfake.ACL{Resource: group, Name: "*", Pattern: literal, Operation: kmsg.ACLOperationDescribe, Allow: true}
	topicConfigs := kfake.ACL{Resource: topic, Name: "*", Pattern: literal, Operation: kmsg.ACLOperationDescribeConfigs, Allow: true}
	p := kafkatest.NewPair(t, kafkatest.Brokers(1),
		kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"),
		kafkatest.Kfake(kfake.EnableACLs(), kfake.User("SCRAM-SHA-256", "weak", "weak-pw", describeTopics, describeGroups, topicConfigs)))
	p.Source.CreateTopic(t, "orders", 1, nil)
	mustCreate(t, p.Source.Client(t), bind(allow, "User:app", read, topic, "orders", literal))
	cfg := p.Config(t, "weak")
	cfg.Source.SASL = config.SASL{Mechanism: config.ScramSHA256, Username: "weak", Password: "weak-pw"}
	h := p.Open(t, "weak", cfg)
	before := readSorted(t, p.Target.Client(t))
	r, err := acls.NewSyncer(h, 0).Sync(t.Context())
	if !errors.Is(err, acls.ErrSyncNotAllowed) || !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("sync as weak: %v, want ErrSyncNotAllowed", err)
	}
	if r.Error != err.Error() || len(r.Created) != 0 {
		t.Errorf("result: %+v", r)
	}
	if after := readSorted(t, p.Target.Client(t)); !reflect.DeepEqual(after, before) {
		t.Errorf("target bindings changed: %v, were %v", after, before)
	}
}

// stateEnd is the end offset of h's state topic.
func stateEnd(t *testing.T, h *migration.Handle) int64 {
	t.Helper()
	ends, err := h.TargetAdmin().ListEndOffsets(t.Context(), h.StateTopic())
	if err != nil {
		t.Fatal(err)
	}
	o, ok := ends.Lookup(h.StateTopic(), 0)
	if !ok || o.Err != nil {
		t.Fatalf("end offset of %s: %v", h.StateTopic(), o.Err)
	}
	return o.Offset
}
