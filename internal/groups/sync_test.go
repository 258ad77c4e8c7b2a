package groups_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/state"
)

// mirrorContinuously runs a continuous mirror of topic until the test ends.
func mirrorContinuously(t *testing.T, pair *kafkatest.Pair, name, topic string) {
	t.Helper()
	all, _ := config.NewSelection(nil, nil)
	settings := config.DefaultMirror()
	settings.TransactionInterval = 20 * time.Millisecond
	m, err := mirror.New(mirror.Options{
		Name: name, Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID,
		Topics: []mirror.Topic{{Source: topic, Target: topic}}, Groups: all, Settings: settings, StateReplicationFactor: -1,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mirror: %v", err)
		}
	})
}

// waitCopied waits until the mirror's checkpoint of topic/p reaches next.
func waitCopied(t *testing.T, c *migration.Handle, topic string, p int32, next int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		snap, err := c.LoadState(t.Context())
		if err != nil && !errors.Is(err, state.ErrNoState) {
			t.Fatal(err)
		}
		if snap != nil && snap.Checkpoints[state.TopicPartition{Topic: topic, Partition: p}].Next >= next {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror did not copy %s/%d up to %d within 20s", topic, p, next)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consume makes a live consumer of group on c read n records of topic/0
// and commit, and returns it (still a member).
func consume(t *testing.T, c *kafkatest.Cluster, group, topic string, n int) *kgo.Client {
	t.Helper()
	cl := c.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	readN(t, cl, n)
	return cl
}

func readN(t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for got := 0; got < n; {
		fs := cl.PollRecords(ctx, 1)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", got, n, err)
		}
		got += fs.NumRecords()
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func committedAt(t *testing.T, c *kafkatest.Cluster, group, topic string) int64 {
	t.Helper()
	o, ok := c.CommittedOffsets(t, group)[topic][0]
	if !ok {
		return -1
	}
	return o
}

func groupState(t *testing.T, s *groups.Syncer, group string) groups.SyncedGroup {
	t.Helper()
	for _, g := range s.Status().Groups {
		if g.Group == group {
			return g
		}
	}
	t.Fatalf("group %s not in the sync status %+v", group, s.Status())
	return groups.SyncedGroup{}
}

// TestSync follows a live source group with continuous sync, never moves
// its target offset backwards unless the source did, stops at the switch,
// and leaves a group active on both clusters alone.
func TestSync(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	produceN(t, pair.Source, "orders", 0, 20, 5, "s")
	c := clusters(t, pair, "m1")
	mirrorContinuously(t, pair, "m1", "orders")
	waitCopied(t, c, "orders", 0, 20)
	all, _ := config.NewSelection(nil, nil)
	s, err := groups.NewSyncer(c, all, time.Second)
	if err != nil {
		t.Fatal(err)
	}

	app := consume(t, pair.Source, "app", "orders", 7)
	if err := s.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := committedAt(t, pair.Target, "app", "orders"), copyOf(t, pair, "orders", 7); got != want {
		t.Errorf("after the first sync the target offset is %d, want the copy of source 7 at %d", got, want)
	}
	if g := groupState(t, s, "app"); g.State != groups.SyncSyncing || g.Commits != 1 || g.Source.Members != 1 {
		t.Errorf("status %+v", g)
	}

	// The source moves on: new records are copied and the group reads them.
	produceN(t, pair.Source, "orders", 0, 10, 5, "t")
	waitCopied(t, c, "orders", 0, 30)
	readN(t, app, 16)
	if err := s.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := committedAt(t, pair.Target, "app", "orders"), copyOf(t, pair, "orders", 23); got != want {
		t.Errorf("after the second sync the target offset is %d, want the copy of source 23 at %d", got, want)
	}

	// Something moved the target offset ahead: sync does not move it back
	// while the source moves forward...
	ahead := copyOf(t, pair, "orders", 28)
	pair.Target.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: ahead}})
	readN(t, app, 1)
	if err := s.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := committedAt(t, pair.Target, "app", "orders"); got != ahead {
		t.Errorf("sync moved the target offset from %d back to %d", ahead, got)
	}
	// ...but follows the source back when the group resets there.
	var commitErr error
	app.CommitOffsetsSync(t.Context(), map[string]map[int32]kgo.EpochOffset{"orders": {0: {Epoch: -1, Offset: 3}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
			commitErr = err
		})
	if commitErr != nil {
		t.Fatal(commitErr)
	}
	if err := s.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := committedAt(t, pair.Target, "app", "orders"), copyOf(t, pair, "orders", 3); got != want {
		t.Errorf("after a reset on the source the target offset is %d, want %d", got, want)
	}

	// Switch: the application stops on the source and starts on the
	// target. Sync reports it and no longer touches the group.
	app.Close()
	consume(t, pair.Target, "app", "orders", 1)
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 25}})
	before := committedAt(t, pair.Target, "app", "orders")
	if err := s.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if g := groupState(t, s, "app"); g.State != groups.SyncSwitched || g.SwitchedAt.IsZero() {
		t.Errorf("after the switch: %+v", g)
	}
	if got := committedAt(t, pair.Target, "app", "orders"); got != before {
		t.Errorf("sync committed %d on a switched group (was %d)", got, before)
	}

	// Active on both: a warning state, nothing committed.
	consume(t, pair.Source, "both", "orders", 2)
	consume(t, pair.Target, "both", "orders", 1)
	tgtBefore := committedAt(t, pair.Target, "both", "orders")
	if err := s.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if g := groupState(t, s, "both"); g.State != groups.SyncActiveOnBoth || g.Commits != 0 {
		t.Errorf("group on both: %+v", g)
	}
	if got := committedAt(t, pair.Target, "both", "orders"); got != tgtBefore {
		t.Errorf("sync moved a group active on both clusters from %d to %d", tgtBefore, got)
	}
}
