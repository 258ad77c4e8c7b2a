package migrate

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/topics"
)

// TestClaimBeforeCreate: a run that created its target topics and died
// before the mirror's first commit (kill -9) left them claimed in the
// state, so the next run resumes into them instead of refusing them as an
// empty topic it did not create.
func TestClaimBeforeCreate(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1"})
	for i := range 10 {
		pair.Source.Produce(t, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: fmt.Appendf(nil, "v%d", i)})
	}
	cfg := pair.Config(t, "claim")
	h := pair.Open(t, "claim", cfg)
	r, err := New(t.Context(), h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// What Run does before the mirror's first commit, and then dies.
	if err := r.claim(t.Context(), r.Plan(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := topics.Apply(t.Context(), h.TargetAdmin(), r.Plan()); err != nil {
		t.Fatal(err)
	}

	h2, err := migration.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	r2, err := New(t.Context(), h2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := r2.Problems(); len(p) != 0 {
		t.Fatalf("the next run refuses: %q", p)
	}
	if got := r2.Plan().Topics[0].Action; got != topics.Resume {
		t.Fatalf("orders: action %s, want resume", got)
	}
	cfg.Mirror.Until = config.UntilEnd
	h3 := pair.Open(t, "claim", cfg)
	r3, err := New(t.Context(), h3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r3.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := len(pair.Target.ConsumeAll(t, "orders")); got != 10 {
		t.Fatalf("target holds %d records, want 10", got)
	}
}
