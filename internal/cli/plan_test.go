package cli_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
)

// TestPlanCommand: `kmigrate plan` exits 0 with "can run" for a clean pair
// and 1 listing the problem when a target topic conflicts, writing nothing
// either way.
func TestPlanCommand(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1"})
	var rs []*kgo.Record
	for i := range 6 {
		rs = append(rs, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: fmt.Appendf(nil, "v%d", i)})
	}
	pair.Source.Produce(t, rs...)

	code, stdout, stderr := kmigrate(t, "plan", "--source", src, "--target", tgt, "--topics", "orders", "--until", "end", "--log-level", "warn")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, stdout, stderr)
	}
	name := migration.DefaultName(pair.Source.ID, pair.Target.ID)
	for _, want := range []string{
		fmt.Sprintf("Migration %s (first run): source %s (1 broker) -> target %s (1 broker)", name, pair.Source.ID, pair.Target.ID),
		"Start earliest, until end, exactly-once, tracing headers on",
		"Total: 1 topic, 2 partitions, 6 records,",
		"The migration can run: nothing blocks it.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	var row []string
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "orders" {
			row = f[:6]
			break
		}
	}
	if want := []string{"orders", "orders", "include", `"orders"`, "create", "2"}; fmt.Sprint(row) != fmt.Sprint(want) {
		t.Errorf("topic row %q, want %q", row, want)
	}

	// A conflicting target topic blocks the plan: exit 1, the problem
	// listed, in JSON too.
	pair.Target.CreateTopic(t, "orders", 1, nil)
	code, stdout, _ = kmigrate(t, "plan", "--source", src, "--target", tgt, "--topics", "orders", "--log-level", "warn")
	if code != 1 || !strings.Contains(stdout, "BLOCKED by 1 problem; nothing was written:\n- topic \"orders\" -> \"orders\": ") {
		t.Errorf("conflict: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = kmigrate(t, "plan", "--source", src, "--target", tgt, "--topics", "orders", "-o", "json", "--log-level", "warn")
	var r struct {
		SchemaVersion int      `json:"schema_version"`
		CanRun        bool     `json:"can_run"`
		Problems      []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); code != 1 || err != nil || r.SchemaVersion != 1 || r.CanRun || len(r.Problems) != 1 {
		t.Errorf("conflict json: exit %d, %v, %+v", code, err, r)
	}
	topics, err := pair.Target.Admin(t).ListTopics(t.Context())
	if err != nil || fmt.Sprint(topics.Names()) != "[orders]" {
		t.Errorf("plan wrote to the target: topics %v, %v", topics.Names(), err)
	}
}
