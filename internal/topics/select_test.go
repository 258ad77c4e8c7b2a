package topics_test

import (
	"reflect"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/topics"
)

func selection(t *testing.T, include, exclude []string) config.Selection {
	t.Helper()
	s, err := config.NewSelection(include, exclude)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// internalNames are topics that only a literal include selects.
var internalNames = []string{
	"__consumer_offsets", "__transaction_state", "__confluent.support.metrics", "__redpanda.x",
	"_schemas", "_confluent-metrics", "_confluent_balancer_api_state", "_redpanda.audit_log",
	"mm2-offset-syncs.b.internal", "mm2-configs.b.internal", "mm2-status.b.internal", "mm2-offsets.b.internal",
	"a.checkpoints.internal", "heartbeats",
}

const (
	literally  = ": internal topics are migrated only when topics.include names them exactly"
	kafkaOwn   = `internal topic (names starting with "__" belong to Kafka, its vendors and tools)` + literally
	mm2        = "MirrorMaker 2 internal topic" + literally
	noInclude  = "matches no include pattern"
	stateTopic = "kmigrate's own state: never migrated"
)

func TestSelect(t *testing.T) {
	var all []topics.Candidate
	for _, n := range internalNames {
		all = append(all, topics.Candidate{Name: n})
	}
	all = append(all,
		topics.Candidate{Name: "orders"},
		topics.Candidate{Name: "orders.tmp"},
		topics.Candidate{Name: "payments"},
		topics.Candidate{Name: "app-changelog"},
		topics.Candidate{Name: "flagged", Internal: true},
		topics.Candidate{Name: "__kmigrate-state-orders-move"},
		topics.Candidate{Name: "my_schemas"},
		topics.Candidate{Name: "service.heartbeats"},
	)
	allExcluded := []topics.Excluded{
		{"__confluent.support.metrics", kafkaOwn},
		{"__consumer_offsets", "Kafka's consumer offsets (kmigrate migrates group offsets itself)" + literally},
		{"__kmigrate-state-orders-move", stateTopic},
		{"__redpanda.x", kafkaOwn},
		{"__transaction_state", "Kafka's transaction state" + literally},
		{"_confluent-metrics", "Confluent Platform internal topic" + literally},
		{"_confluent_balancer_api_state", "Confluent Platform internal topic" + literally},
		{"_redpanda.audit_log", "Redpanda internal topic" + literally},
		{"_schemas", "Schema Registry's storage" + literally},
		{"a.checkpoints.internal", mm2},
		{"flagged", "flagged internal by the source cluster" + literally},
		{"heartbeats", mm2},
		{"mm2-configs.b.internal", mm2},
		{"mm2-offset-syncs.b.internal", mm2},
		{"mm2-offsets.b.internal", mm2},
		{"mm2-status.b.internal", mm2},
	}
	tests := []struct {
		name             string
		include, exclude []string
		selected         []topics.Selected
		excluded         []topics.Excluded
	}{
		{
			name: "everything but internal topics",
			selected: []topics.Selected{
				{"app-changelog", ""}, {"my_schemas", ""}, {"orders", ""}, {"orders.tmp", ""}, {"payments", ""}, {"service.heartbeats", ""},
			},
			excluded: allExcluded,
		},
		{
			name:    "patterns and the first matching include",
			include: []string{`orders.*`, `orders`, `pay.*`},
			exclude: []string{`.*\.tmp`},
			selected: []topics.Selected{
				{"orders", "orders.*"}, {"payments", "pay.*"},
			},
			excluded: []topics.Excluded{
				{"__confluent.support.metrics", noInclude}, {"__consumer_offsets", noInclude},
				{"__kmigrate-state-orders-move", stateTopic}, {"__redpanda.x", noInclude}, {"__transaction_state", noInclude},
				{"_confluent-metrics", noInclude}, {"_confluent_balancer_api_state", noInclude}, {"_redpanda.audit_log", noInclude},
				{"_schemas", noInclude}, {"a.checkpoints.internal", noInclude}, {"app-changelog", noInclude},
				{"flagged", noInclude}, {"heartbeats", noInclude}, {"mm2-configs.b.internal", noInclude},
				{"mm2-offset-syncs.b.internal", noInclude}, {"mm2-offsets.b.internal", noInclude}, {"mm2-status.b.internal", noInclude},
				{"my_schemas", noInclude}, {"orders.tmp", `matches exclude pattern ".*\\.tmp"`}, {"service.heartbeats", noInclude},
			},
		},
		{
			name:     "broad patterns never select internal topics",
			include:  []string{"_.*", "mm2-.*", "__.*"},
			selected: nil,
		},
		{
			name: "literal names select internal topics",
			include: []string{
				"__consumer_offsets", `_schemas`, `mm2-configs\.b\.internal`, "mm2-status.b.internal", `\Qa.checkpoints.internal\E`,
				"flagged", "__kmigrate-state-orders-move", "heartbeats|orders",
			},
			exclude: []string{"mm2-status.*"},
			selected: []topics.Selected{
				{"__consumer_offsets", "__consumer_offsets"},
				{"_schemas", "_schemas"},
				{"a.checkpoints.internal", `\Qa.checkpoints.internal\E`},
				{"flagged", "flagged"},
				{"mm2-configs.b.internal", `mm2-configs\.b\.internal`},
				{"orders", "heartbeats|orders"},
			},
			excluded: []topics.Excluded{
				{"__confluent.support.metrics", noInclude}, {"__kmigrate-state-orders-move", stateTopic},
				{"__redpanda.x", noInclude}, {"__transaction_state", noInclude},
				{"_confluent-metrics", noInclude}, {"_confluent_balancer_api_state", noInclude}, {"_redpanda.audit_log", noInclude},
				{"app-changelog", noInclude}, {"heartbeats", mm2},
				{"mm2-offset-syncs.b.internal", noInclude}, {"mm2-offsets.b.internal", noInclude},
				{"mm2-status.b.internal", `matches exclude pattern "mm2-status.*"`},
				{"my_schemas", noInclude}, {"orders.tmp", noInclude}, {"payments", noInclude}, {"service.heartbeats", noInclude},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, exc := topics.Select(all, selection(t, tt.include, tt.exclude))
			if !reflect.DeepEqual(sel, tt.selected) {
				t.Errorf("selected:\ngot  %q\nwant %q", sel, tt.selected)
			}
			if tt.excluded != nil && !reflect.DeepEqual(exc, tt.excluded) {
				t.Errorf("excluded:\ngot  %q\nwant %q", exc, tt.excluded)
			}
			if len(sel)+len(exc) != len(all) {
				t.Errorf("%d selected + %d excluded != %d candidates", len(sel), len(exc), len(all))
			}
		})
	}
}
