package groups_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// joinGroup starts a consumer of topic in group on c that joins the group
// and stays in it until the test ends. It polls once, so that the group has
// synced (and is Stable) when joinGroup returns; it never commits.
func joinGroup(t *testing.T, c *kafkatest.Cluster, group, topic string) {
	t.Helper()
	cl := c.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	if err := ctx.Err(); err != nil {
		t.Fatalf("consumer of group %q got no records: %v", group, err)
	}
	if err := fs.Err0(); err != nil {
		t.Fatalf("consumer of group %q: %v", group, err)
	}
}

// copyOf returns the target offset of the copy of source offset o of
// topic/0, from the tracing headers of the target records.
func copyOf(t *testing.T, pair *kafkatest.Pair, topic string, o int64) int64 {
	t.Helper()
	for _, r := range pair.Target.ConsumeAll(t, topic) {
		src, ok, err := trace.Find(r.Headers)
		if err != nil {
			t.Fatal(err)
		}
		if ok && r.Partition == 0 && src.Offset == o {
			return r.Offset
		}
	}
	t.Fatalf("no copy of %s/0 offset %d on the target", topic, o)
	return -1
}

// TestList checks every verdict of List on a pair where migration m1
// mirrored offsets [0, 10) of orders/0 and the source has 15 records there
// since; other is a source topic the migration does not mirror.
func TestList(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	pair.Source.CreateTopic(t, "other", 1, noRetention)
	produceN(t, pair.Source, "orders", 0, 10, 10, "a")
	produceN(t, pair.Source, "other", 0, 3, 3, "o")
	mirrorOnce(t, pair, "m1", "orders")
	produceN(t, pair.Source, "orders", 0, 5, 5, "b") // source end 15, mirror checkpoint 10

	pair.Source.CommitOffsets(t, "idle", map[string]map[int32]int64{"orders": {0: 4}})
	pair.Source.CommitOffsets(t, "active", map[string]map[int32]int64{"orders": {0: 10}})
	pair.Source.CommitOffsets(t, "unmirrored", map[string]map[int32]int64{"other": {0: 2}})
	pair.Source.CommitOffsets(t, "ahead", map[string]map[int32]int64{"orders": {0: 13}})
	pair.Source.CommitOffsets(t, "busy-target", map[string]map[int32]int64{"orders": {0: 10}})
	joinGroup(t, pair.Source, "active", "orders")
	joinGroup(t, pair.Target, "busy-target", "orders")

	snap := loadState(t, pair, "m1")
	all, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := groups.List(t.Context(), pair.Source.Admin(t), pair.Target.Admin(t), snap, all)
	if err != nil {
		t.Fatal(err)
	}

	dead := groups.Side{State: "Dead"}
	empty := groups.Side{State: "Empty"}
	orders := func(committed int64, tr *groups.Translation) []groups.TopicInfo {
		return []groups.TopicInfo{{Topic: "orders", Mirrored: true, Target: "orders", Lag: 15 - committed, Partitions: []groups.PartitionInfo{
			{Partition: 0, Committed: committed, End: 15, Lag: 15 - committed, Translation: tr},
		}}}
	}
	end := copyOf(t, pair, "orders", 9) + 1
	want := []groups.GroupInfo{
		{Group: "active", Source: groups.Side{State: "Stable", Members: 1}, Target: dead,
			Topics: orders(10, &groups.Translation{Kind: groups.End, Offset: end}), Lag: 5,
			Reasons: []string{"the group has 1 member on the source: stop the application first"}},
		{Group: "ahead", Source: empty, Target: dead,
			Topics: orders(13, &groups.Translation{Kind: groups.NotYetMirrored, Offset: -1}), Lag: 2,
			Reasons: []string{"waiting for the mirror to copy up to offset 13 on orders/0 (it has handled offsets below 10)"}},
		{Group: "busy-target", Source: empty, Target: groups.Side{State: "Stable", Members: 1},
			Topics: orders(10, &groups.Translation{Kind: groups.End, Offset: end}), Lag: 5,
			Reasons: []string{"the group is active on the target with 1 member: stop the consumers using its name there first"}},
		{Group: "idle", Source: empty, Target: dead,
			Topics: orders(4, &groups.Translation{Kind: groups.Exact, Offset: copyOf(t, pair, "orders", 4)}), Lag: 11,
			Migratable: true},
		{Group: "unmirrored", Source: empty, Target: dead,
			Topics:  []groups.TopicInfo{{Topic: "other", Lag: 1, Partitions: []groups.PartitionInfo{{Partition: 0, Committed: 2, End: 3, Lag: 1}}}},
			Lag:     1,
			Reasons: []string{"no committed topic is mirrored by migration m1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List:\n got %+v\nwant %+v", got, want)
	}

	// Before any migration: nothing is migratable, and nothing is
	// translated; only the selected groups are listed.
	idle, err := config.NewSelection([]string{"idle"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err = groups.List(t.Context(), pair.Source.Admin(t), pair.Target.Admin(t), nil, idle)
	if err != nil {
		t.Fatal(err)
	}
	want = []groups.GroupInfo{{Group: "idle", Source: empty, Target: dead,
		Topics: []groups.TopicInfo{{Topic: "orders", Lag: 11, Partitions: []groups.PartitionInfo{{Partition: 0, Committed: 4, End: 15, Lag: 11}}}},
		Lag:    11, Reasons: []string{"there is no migration state yet: run kmigrate mirror first"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List without state:\n got %+v\nwant %+v", got, want)
	}
}
