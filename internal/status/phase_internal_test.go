package status

import (
	"slices"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/state"
)

func TestPhaseAndNext(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	promoted := now.Add(-time.Minute)
	group := func(name string, switched bool, topics ...string) Group {
		g := Group{GroupInfo: groups.GroupInfo{Group: name}, Switched: switched}
		for _, tp := range topics {
			g.Topics = append(g.Topics, groups.TopicInfo{Topic: tp, Mirrored: true})
		}
		return g
	}
	for _, tc := range []struct {
		name     string
		topics   []Topic
		groups   []Group
		running  bool
		unknown  string // Report.SourceUnknown
		phase    string
		next     string
		blockers []string
	}{
		{
			name:    "syncing",
			topics:  []Topic{{Source: "orders", Lag: 5, LagSeconds: 2, Producers: ProducersSource, SourceWriteRate: 10}},
			groups:  []Group{group("app", false, "orders")},
			running: true, phase: state.PhaseSync,
			next: "move consumer groups (kmigrate groups migrate) and producers to the target, then promote each topic",
			blockers: []string{
				`topic "orders": replication lag is 5 records (2s): wait for the mirror to copy them`,
				`topic "orders": producers still write to the source (10.0 records/s): move them to the target and wait for the source to be quiet for 30s`,
				`topic "orders": consumer group "app" has not moved to the target: stop it on the source, run kmigrate groups migrate --group app, and start it on the target`,
			},
		},
		{
			name:    "ready to promote",
			topics:  []Topic{{Source: "orders", Producers: ProducersTarget}, {Source: "logs", Producers: ProducersNone}},
			groups:  []Group{group("app", true, "orders"), group("other", false, "payments")},
			running: true, phase: state.PhaseConsumers,
			next: "promote orders, logs: kmigrate promote --topic orders --topic logs", blockers: []string{},
		},
		{
			name:   "partly promoted, mirror stopped",
			topics: []Topic{{Source: "orders", Promoted: &promoted}, {Source: "logs", Producers: ProducersSource}},
			phase:  state.PhasePromote,
			next:   "move consumer groups (kmigrate groups migrate) and producers to the target, then promote each topic",
			blockers: []string{
				"no kmigrate mirror is running (last seen never): start it so that the target keeps up",
				`topic "logs": producers still write to the source (0.0 records/s): move them to the target and wait for the source to be quiet for 30s`,
			},
		},
		{
			name:    "without the source, a switched group but nothing promotable",
			topics:  []Topic{{Source: "orders", Lag: Unknown, LagSeconds: Unknown, SourceWriteRate: Unknown, Producers: ProducersUnknown}},
			groups:  []Group{group("app", true, "orders")},
			running: true, unknown: "connection refused", phase: state.PhaseConsumers,
			next:     "read the source to know the next step: this report comes from the target alone; run kmigrate status where the source is reachable",
			blockers: []string{`topic "orders": its lag and source writes are unknown without the source`},
		},
		{
			name:   "done",
			topics: []Topic{{Source: "orders", Promoted: &promoted}},
			phase:  state.PhaseDone, next: "every topic is promoted: stop kmigrate mirror; once the source stays quiet it can be decommissioned",
			blockers: []string{},
		},
	} {
		r := &Report{Topics: tc.topics, Groups: tc.groups, Mirror: Mirror{Running: tc.running}, SourceUnknown: tc.unknown}
		r.Phase = phase(r)
		next, blockers := next(r, Options{Quiet: 30 * time.Second, Now: func() time.Time { return now }})
		if r.Phase != tc.phase || next != tc.next || !slices.Equal(blockers, tc.blockers) {
			t.Errorf("%s: phase %q, next %q, blockers %q\nwant %q, %q, %q", tc.name, r.Phase, next, blockers, tc.phase, tc.next, tc.blockers)
		}
	}
}
