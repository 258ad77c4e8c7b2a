package main_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// The issue-4 acceptance tests: an application's consumer group, run by a
// third-party client (confluent-kafka-python or kcat), moves from the
// source to the target with `kmigrate groups migrate` and back with
// `kmigrate groups rollback`, and receives every committed-visible source
// record exactly once and in order, on compacted, transactional and
// many-partition topics.

func testGroupMigrate(t *testing.T, consumer clientKind) {
	f := newGroupFixture(t, consumer)
	// The application moves to the target and reads the rest.
	f.consume(t, true, 0)
	f.finish(t)
	f.checkPositions(t, committedOffsets(t, f.pair.Target, f.group), true)
}

// TestGroupMigratePythonConsumer: a confluent-kafka-python group reads part
// of a compacted, a transactional and a 12-partition topic on the source;
// after mirroring and groups migrate, the same program on the target reads
// the rest: together, every source record exactly once, in order.
func TestGroupMigratePythonConsumer(t *testing.T) { testGroupMigrate(t, pythonConsumer) }

// TestGroupMigrateKcatConsumer is TestGroupMigratePythonConsumer with
// `kcat -G`.
func TestGroupMigrateKcatConsumer(t *testing.T) { testGroupMigrate(t, kcatConsumer) }

// TestGroupMigrateRefusals: groups migrate refuses a group that is active
// on the source (exit 1, the group's error printed, nothing written to the
// target), and a command line naming no group (exit 2, usage message).
func TestGroupMigrateRefusals(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	const group = "reports"
	seed(t, pair.Source, "orders", 3, 30)
	committed := map[string]map[int32]int64{"orders": {0: 4, 1: 7, 2: 10}}
	pair.Source.CommitOffsets(t, group, committed)
	if out, errOut, code := run(t, mirrorArgs(pair, "--until", "end")...); code != 0 {
		t.Fatalf("mirror: exit %d\n%s%s", code, out, errOut)
	}

	// The application is still running on the source.
	assigned := make(chan struct{})
	cl := pair.Source.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case <-assigned:
			default:
				close(assigned)
			}
		}))
	ctx, cancel := context.WithCancel(t.Context())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	t.Cleanup(func() { cancel(); <-polled })
	select {
	case <-assigned:
	case <-time.After(30 * time.Second):
		t.Fatal("the source consumer was not assigned partitions within 30s")
	}

	wantErr := `group "reports" is Stable with 1 member on the source: group is active: stop the application on the source first (or pass --wait to wait for it)`
	out, errOut, code := run(t, groupArgs(pair, "migrate", "--group", group)...)
	if code != 1 {
		t.Fatalf("groups migrate of an active group: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	rep := parseReport(t, out)
	if rep.OK || len(rep.Groups) != 1 || rep.Groups[0].Error != wantErr || len(rep.Groups[0].Partitions) != 0 || rep.Groups[0].Committed != 0 {
		t.Errorf("groups migrate of an active group: report %s\nwant ok false, one group with error %q and no partitions", out, wantErr)
	}
	out, errOut, code = run(t, slices.DeleteFunc(groupArgs(pair, "migrate", "--group", group), func(s string) bool { return s == "--output" || s == "json" })...)
	if code != 1 || !strings.Contains(out, "Group reports (exact): NOT MOVED\n  error: "+wantErr+"\n") {
		t.Errorf("groups migrate of an active group, text output: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and the error %q", code, out, errOut, wantErr)
	}
	if got := pair.Target.CommittedOffsets(t, group); len(got) != 0 {
		t.Errorf("the refused migration committed %v on the target, want nothing", got)
	}
	if got := pair.Source.CommittedOffsets(t, group); !maps.EqualFunc(got, committed, maps.Equal) {
		t.Errorf("the group's source offsets are %v, want %v unchanged", got, committed)
	}

	// Once the application has stopped, the same command migrates it:
	// the refusal was the group's activity.
	cancel()
	<-polled
	if err := cl.LeaveGroupContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, groupArgs(pair, "migrate", "--group", group)...); code != 0 {
		t.Fatalf("groups migrate after the application stopped: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// One copy per source record, then the mirror's commit marker:
	// offsets translate one to one, and 10 (caught up) to the end of the
	// copies.
	if got := pair.Target.CommittedOffsets(t, group); !maps.EqualFunc(got, committed, maps.Equal) {
		t.Errorf("the group's target offsets after the migration: %v, want %v", got, committed)
	}

	for _, cmd := range []string{"migrate", "rollback"} {
		out, errOut, code := run(t, "groups", cmd, "--source", strings.Join(pair.Source.Addrs, ","), "--target", strings.Join(pair.Target.Addrs, ","))
		want := "kmigrate: name the groups to move with --group G (repeatable), or pass --all for every selected group\n"
		if code != 2 || out != "" || errOut != want {
			t.Errorf("groups %s without --group or --all: exit %d, stdout %q, stderr %q; want 2, nothing, %q", cmd, code, out, errOut, want)
		}
	}
}
