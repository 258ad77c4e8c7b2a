package plan_test

import (
	"slices"
	"testing"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/plan"
)

// MakeWith reports each step as it starts and the end: four fixed steps,
// then one per group, with the total growing by the groups once listed.
func TestPlanProgress(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, noRetention)
	produce(t, pair.Source, "orders", 0, 0, 3)
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 1}})
	pair.Source.CommitOffsets(t, "billing", map[string]map[int32]int64{"orders": {0: 2}})
	h, err := migration.Open(t.Context(), config1(t, pair.Source, pair.Target), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var got []plan.Progress
	r, err := plan.MakeWith(t.Context(), h, plan.Options{Progress: func(p plan.Progress) { got = append(got, p) }})
	if err != nil || len(r.Groups) != 2 {
		t.Fatalf("plan: %v (groups %+v)", err, r)
	}
	want := []plan.Progress{
		{Step: "checking the clusters", Done: 0, Total: 4},
		{Step: "planning the topics", Done: 1, Total: 4},
		{Step: "listing the groups", Done: 2, Total: 4},
		{Step: "comparing ACLs, quotas and users", Done: 3, Total: 4},
		{Step: "checking the groups", Done: 4, Total: 6},
		{Step: "checking the groups", Done: 5, Total: 6},
		{Step: "done", Done: 6, Total: 6},
	}
	if !slices.Equal(got, want) {
		t.Errorf("progress %+v\nwant %+v", got, want)
	}
}
