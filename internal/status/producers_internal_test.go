package status

import (
	"slices"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/state"
)

// TestProducersFirstGuidance: status calls the safe moment for moving
// producers first (no lag, quiet source, mirror running), warns when
// producers write on the target while the mirror lags, and blocks on a
// group whose position would never deliver natives.
func TestProducersFirstGuidance(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	o := Options{Quiet: 30 * time.Second, Now: func() time.Time { return now }}
	const moment = "start the producers of orders on the target now: the mirror has copied everything and the source is quiet, the safe moment for moving producers first (records written on the target while the mirror still copies land before copies that groups consume on the source, and a group's new position cannot deliver them); or move consumer groups first (kmigrate groups migrate)"
	const generic = "move consumer groups (kmigrate groups migrate) and producers to the target, then promote each topic"
	waiting := Group{GroupInfo: groups.GroupInfo{Group: "app", Topics: []groups.TopicInfo{{Topic: "orders", Target: "orders", Mirrored: true,
		Partitions: []groups.PartitionInfo{{Partition: 0, Committed: 30, Translation: &groups.Translation{Kind: groups.End, Offset: 36}}}}}}}
	lost := waiting
	lost.Topics = []groups.TopicInfo{{Topic: "orders", Target: "orders", Mirrored: true, Partitions: []groups.PartitionInfo{{Partition: 0, Committed: 30,
		Translation: &groups.Translation{Kind: groups.End, Offset: 36, Unreachable: 5, UnreachableNatives: []groups.NativeRange{{From: 11, To: 16}}}}}}}
	notMoved := `topic "orders": consumer group "app" has not moved to the target: stop it on the source, run kmigrate groups migrate --group app, and start it on the target`
	for _, tc := range []struct {
		name     string
		topic    Topic
		group    Group
		running  bool
		next     string
		blockers []string
		warnings []string
	}{
		{
			name: "the moment", topic: Topic{Source: "orders", Producers: ProducersNone}, group: waiting, running: true,
			next: moment, blockers: []string{notMoved},
		},
		{
			name: "no mirror, no moment", topic: Topic{Source: "orders", Producers: ProducersNone}, group: waiting,
			next: generic, blockers: []string{"no kmigrate mirror is running (last seen never): start it so that the target keeps up", notMoved},
		},
		{
			name: "lag", topic: Topic{Source: "orders", Lag: 3, LagSeconds: 1, Producers: ProducersNone}, group: waiting, running: true,
			next: generic, blockers: []string{`topic "orders": replication lag is 3 records (1s): wait for the mirror to copy them`, notMoved},
		},
		{
			name: "producers on the target while the mirror lags", topic: Topic{Source: "orders", Lag: 3, LagSeconds: 1, Producers: ProducersTarget}, group: lost, running: true,
			next: generic,
			blockers: []string{
				`topic "orders": replication lag is 3 records (1s): wait for the mirror to copy them`, notMoved,
				`consumer group "app": 5 records written natively on the target in orders/0 (offsets 11-15) lie before copies it already consumed, so its translated position would never deliver them: move it with kmigrate groups migrate --group app --unreachable-natives=reread (re-reads the copies after the first of them) or =skip`,
			},
			warnings: []string{`topic "orders": producers write on the target while the mirror still has 3 source records to copy: their records land before those copies, and a consumer group that consumes the copies on the source cannot be moved to a position that delivers both (groups migrate refuses and offers --unreachable-natives); pause the producers until the lag is 0`},
		},
	} {
		r := &Report{Topics: []Topic{tc.topic}, Groups: []Group{tc.group}, Mirror: Mirror{Running: tc.running}}
		warnings := producersWarnings(r)
		r.Phase = phase(r)
		next, blockers := next(r, o)
		if next != tc.next || !slices.Equal(blockers, tc.blockers) || !slices.Equal(warnings, tc.warnings) {
			t.Errorf("%s:\nnext %q\nblockers %q\nwarnings %q\nwant %q\n%q\n%q", tc.name, next, blockers, warnings, tc.next, tc.blockers, tc.warnings)
		}
		if tc.name == "the moment" && r.Phase != state.PhaseSync {
			t.Errorf("phase %s", r.Phase)
		}
	}
}
