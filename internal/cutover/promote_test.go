package cutover_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/cutover"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/status"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// producer writes to topic on c every few milliseconds until stopped, and
// counts what it wrote.
type producer struct {
	stop  context.CancelFunc
	done  chan struct{}
	count atomic.Int64
}

func produce(t *testing.T, c *kafkatest.Cluster, topic, prefix string) *producer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{stop: cancel, done: make(chan struct{})}
	cl := c.Client(t)
	go func() {
		defer close(p.done)
		for i := 0; ctx.Err() == nil; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%s-%d", prefix, i)}).FirstErr(); err == nil {
				p.count.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(p.halt)
	return p
}

func (p *producer) halt() { p.stop(); <-p.done }

// TestPromote walks one topic through the cutover: promote refuses while
// producers write to the source, while a group has not moved and while the
// mirror lags; --force promotes a second topic anyway and its mirroring
// stops; once producers and the group have moved, promote succeeds and
// the migration is done.
func TestPromote(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1"})
	pair.Source.CreateTopic(t, "logs", 1, map[string]string{"retention.ms": "-1"})
	all, _ := config.NewSelection(nil, nil)
	m := config.DefaultMirror()
	m.TransactionInterval = 20 * time.Millisecond
	cfg := &config.Config{
		Name: "m1", Source: pair.Source.Config, Target: pair.Target.Config,
		Topics: config.Topics{Selection: all, SyncInterval: time.Second},
		Groups: config.Groups{Selection: all, Sync: true, SyncInterval: config.MinGroupSyncInterval, MirrorWait: 10 * time.Second},
		Mirror: m,
	}
	setup, setupRun := start(t, cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	runCtx, stopMirror := context.WithCancel(t.Context())
	mirrored := make(chan error, 1)
	go func() {
		mirrored <- setupRun.Run(runCtx)
	}()
	in := setup
	o := status.Options{Quiet: time.Second, Sample: 300 * time.Millisecond}

	orders := produce(t, pair.Source, "orders", "src")
	logs := produce(t, pair.Source, "logs", "log")
	app := pair.Source.Client(t, kgo.ConsumerGroup("app"), kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	app.PollFetches(ctx)
	cancel()
	if err := app.CommitUncommittedOffsets(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mirror's first checkpoints", func() bool {
		snap, err := setup.LoadState(t.Context())
		return err == nil && snap.Checkpoints[state.TopicPartition{Topic: "orders", Partition: 1}].Next+snap.Checkpoints[state.TopicPartition{Topic: "orders"}].Next > 0
	})

	r, err := status.Make(t.Context(), in, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Phase != state.PhaseSync || len(r.Topics) != 2 || r.Topics[1].Source != "orders" || r.Topics[1].Producers != status.ProducersSource || !r.Mirror.Running {
		t.Errorf("status while producers write to the source: %+v", r)
	}

	// Refused: producers on the source and a group still there.
	res, err := cutover.Promote(t.Context(), in, []string{"orders"}, false, o)
	if !errors.Is(err, cutover.ErrPreconditions) {
		t.Fatalf("promote: %v", err)
	}
	for _, want := range []string{
		`topic "orders": producers still write to the source`,
		`topic "orders": consumer group "app" has not moved to the target: stop it on the source, run kmigrate groups migrate --group app, and start it on the target`,
	} {
		if !slices.ContainsFunc(res.Unmet, func(u string) bool { return strings.HasPrefix(u, want) }) {
			t.Errorf("unmet %q lacks %q", res.Unmet, want)
		}
	}
	if snap, _ := setup.LoadState(t.Context()); len(snap.Promoted) != 0 {
		t.Fatalf("a refused promotion was recorded: %+v", snap.Promoted)
	}

	// --force promotes logs although its producer still writes: the
	// mirror stops copying it.
	res, err = cutover.Promote(t.Context(), in, []string{"logs"}, true, o)
	if err != nil || !res.Forced || !slices.Equal(res.Promoted, []string{"logs"}) || res.Phase != state.PhasePromote {
		t.Fatalf("forced promote: %+v, %v", res, err)
	}
	// The mirror notices and reloads without logs: from then on its
	// transactions advance orders' checkpoints and never logs' (its
	// producer still writes). Judged by the mirror's own progress, not by
	// time: logs' checkpoint must stay put across 10 orders transactions,
	// and then across 10 more, with no new copy of logs on the target.
	still := func() int64 {
		t.Helper()
		last, streak, seen := int64(-1), 0, time.Time{}
		waitFor(t, "logs' checkpoint to stay put while orders' advance", func() bool {
			snap, err := setup.LoadState(t.Context())
			if err != nil {
				return false
			}
			l := snap.Checkpoints[state.TopicPartition{Topic: "logs"}].Next
			u := snap.Checkpoints[state.TopicPartition{Topic: "orders"}].Updated
			if o1 := snap.Checkpoints[state.TopicPartition{Topic: "orders", Partition: 1}].Updated; o1.After(u) {
				u = o1
			}
			switch {
			case l != last:
				last, streak, seen = l, 0, u
			case u.After(seen):
				streak, seen = streak+1, u
			}
			return streak >= 10
		})
		return last
	}
	stopped := still()
	before := len(pair.Target.ConsumeAll(t, "logs"))
	if again := still(); again != stopped {
		t.Errorf("the mirror still copies the promoted topic logs: its checkpoint moved from %d to %d", stopped, again)
	}
	if after := len(pair.Target.ConsumeAll(t, "logs")); after != before {
		t.Errorf("the mirror still copies the promoted topic logs: %d records, then %d", before, after)
	}
	logs.halt()

	// Producers move: the source goes quiet, the target gets native
	// writes. The group moves: stopped, migrated, started on the target.
	orders.halt()
	native := produce(t, pair.Target, "orders", "native")
	app.Close()
	if _, err := groups.Migrate(t.Context(), setup, "app", groups.MigrateOptions{MirrorWait: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}

	// The mirror lags while stopped: promote refuses on lag.
	stopMirror()
	if err := <-mirrored; err != nil {
		t.Fatalf("mirror: %v", err)
	}
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("late")})
	res, err = cutover.Promote(t.Context(), in, nil, false, o)
	if !errors.Is(err, cutover.ErrPreconditions) || !slices.ContainsFunc(res.Unmet, func(u string) bool {
		return strings.HasPrefix(u, `topic "orders": replication lag is 1 records`)
	}) {
		t.Fatalf("promote with lag: %+v, %v", res, err)
	}

	// Mirror again (bounded) to catch up; then everything holds.
	cfg.Mirror.Until = config.UntilEnd
	_, setup2Run := start(t, cfg, nil)
	if err := setup2Run.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The source has been quiet for the quiet period once status says
	// the producers moved (asked until then, not slept through).
	waitFor(t, "status to see the producers on the target", func() bool {
		r, err = status.Make(t.Context(), in, o)
		return err == nil && r.Topics[1].Producers == status.ProducersTarget
	})
	ot := r.Topics[1]
	if ot.Lag != 0 || ot.Producers != status.ProducersTarget || ot.TargetNativeRate <= 0 || r.Phase != state.PhasePromote {
		t.Errorf("status after the move: phase %s, orders %+v", r.Phase, ot)
	}
	res, err = cutover.Promote(t.Context(), in, nil, false, o)
	if err != nil || !slices.Equal(res.Promoted, []string{"orders"}) || !slices.Equal(res.Already, []string{"logs"}) || res.Forced || res.Phase != state.PhaseDone {
		t.Fatalf("promote: %+v, %v", res, err)
	}
	native.halt()
	snap, err := setup.LoadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range snap.Events {
		actions = append(actions, e.Action)
	}
	if !slices.Equal(actions, []string{"promote", "group migrated", "promote"}) || snap.Phase.Phase != state.PhaseDone ||
		!snap.Promoted["logs"].Forced || snap.Promoted["orders"].Forced || snap.Switched["app"].How != "migrated" {
		t.Errorf("state: events %q, phase %+v, promoted %+v, switched %+v", actions, snap.Phase, snap.Promoted, snap.Switched)
	}
}
