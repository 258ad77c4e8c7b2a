package cutover_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/cutover"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/status"
)

func orderConfig(pair *kafkatest.Pair, until config.Until, start config.StartKind) *config.Config {
	all, _ := config.NewSelection(nil, nil)
	m := config.DefaultMirror()
	m.TransactionInterval = 20 * time.Millisecond
	m.Until = until
	m.Start = config.StartPosition{Kind: start}
	return &config.Config{
		Name: "m1", Source: pair.Source.Config, Target: pair.Target.Config,
		Topics: config.Topics{Selection: all, SyncInterval: time.Second},
		Groups: config.Groups{Selection: all, SyncInterval: config.MinGroupSyncInterval, MirrorWait: 10 * time.Second},
		Mirror: m,
	}
}

func write(t *testing.T, c *kafkatest.Cluster, prefix string, from, to int) []string {
	t.Helper()
	var rs []*kgo.Record
	var vs []string
	for i := from; i < to; i++ {
		v := fmt.Sprintf("%s-%d", prefix, i)
		rs = append(rs, &kgo.Record{Topic: "orders", Value: []byte(v)})
		vs = append(vs, v)
	}
	c.Produce(t, rs...)
	return vs
}

// readGroup consumes orders on c as group until it has n records or 10s
// pass, commits, and leaves; it returns the values read.
func readGroup(t *testing.T, c *kafkatest.Cluster, group string, n int) []string {
	t.Helper()
	cl := c.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics("orders"),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close() // leave the group now, not at the end of the test
	var got []string
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for len(got) < n && ctx.Err() == nil {
		fs := cl.PollRecords(ctx, n-len(got))
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if err := cl.CommitUncommittedOffsets(t.Context()); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestProducersFirst: the safe producers-first order. Producers pause on
// the source; once status says the mirror has no lag and the source is
// quiet, they start on the target, so everything they write lands after
// every copy. The group drains the source, moves, and reads on the target
// exactly the records producers wrote there: every record once, in order.
func TestProducersFirst(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	produced := write(t, pair.Source, "old", 0, 30)
	cfg := orderConfig(pair, config.UntilNever, config.StartEarliest)
	setup, setupRun := start(t, cfg, nil)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- setupRun.Run(ctx) }()

	consumed := readGroup(t, pair.Source, "app", 10)
	// The producers have paused on the source: wait for status to call
	// the moment (no lag, source quiet) instead of guessing it.
	quiet := status.Options{Quiet: time.Millisecond}
	var r *status.Report
	var err error
	waitFor(t, "status to call the moment for producers", func() bool {
		r, err = status.Make(t.Context(), setup, quiet)
		return err == nil && strings.HasPrefix(r.Next, "start the producers of orders on the target now")
	})
	if r.Topics[0].Lag != 0 || r.Topics[0].Producers != status.ProducersNone {
		t.Errorf("status called the moment with topic %+v", r.Topics[0])
	}
	produced = append(produced, write(t, pair.Target, "new", 0, 5)...)
	consumed = append(consumed, readGroup(t, pair.Source, "app", 20)...) // the group drains the source
	produced = append(produced, write(t, pair.Target, "new", 5, 10)...)
	res, err := groups.Migrate(t.Context(), setup, "app", groups.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The group consumed all 30 source records: it resumes at the end of
	// the copies, then reads the 10 native records; none lies before a
	// copy.
	if p := res.Partitions[0]; p.Kind != groups.End || p.From != 30 || p.Unreachable != 0 || p.Native != 0 {
		t.Errorf("translation %+v", p)
	}
	consumed = append(consumed, readGroup(t, pair.Target, "app", 10)...)
	if !slices.Equal(consumed, produced) {
		t.Errorf("consumed %d records, produced %d; not each once, in order:\n%q\n%q", len(consumed), len(produced), consumed, produced)
	}
	// Promotion needs the source quiet for the quiet period: ask until
	// it is, rather than sleeping through it.
	waitFor(t, "the promotion", func() bool {
		_, err := cutover.Promote(t.Context(), setup, nil, false, quiet)
		return err == nil
	})
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("mirror: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Error("the mirror did not end after the promotion")
	}
}

// start opens the migration cfg describes (closed when the test ends) and
// builds its runner; the runner checks for promotions every 100 ms.
func start(t *testing.T, cfg *config.Config, logger *slog.Logger) (*migration.Handle, *migrate.Runner) {
	t.Helper()
	h, err := migration.Open(t.Context(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	r, err := migrate.New(t.Context(), h, migrate.Options{PromotionCheck: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return h, r
}

// mirrorToEnd runs the mirror once up to the source's current end and
// returns its setup, open until the test ends.
func mirrorToEnd(t *testing.T, pair *kafkatest.Pair) *migration.Handle {
	t.Helper()
	setup, setupRun := start(t, orderConfig(pair, config.UntilEnd, config.StartEarliest), nil)
	if err := setupRun.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	return setup
}

// TestProducersFirstInterleaved: producers start on the target while the
// mirror still has source records to copy, made deterministic with two
// bounded mirror runs: copies of old-0..9, natives new-0..4, copies of
// old-10..29, natives new-5..9. Groups that consumed all 30 records on the
// source cannot be given one position that delivers new-0..4 without
// re-reading old-10..29: status names them, groups migrate refuses, and
// each explicit choice does exactly what it says.
func TestProducersFirstInterleaved(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	old := write(t, pair.Source, "old", 0, 10)
	mirrorToEnd(t, pair)
	ends, err := pair.Target.Admin(t).ListEndOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup("orders", 0)
	nativeAt := end.Offset // where new-0..4 land: before the copies of old-10..29
	early := write(t, pair.Target, "new", 0, 5)
	old = append(old, write(t, pair.Source, "old", 10, 30)...)
	setup := mirrorToEnd(t, pair)
	late := write(t, pair.Target, "new", 5, 10)
	for _, g := range []string{"refused", "skipping", "rereading"} {
		if got := readGroup(t, pair.Source, g, 30); !slices.Equal(got, old) {
			t.Fatalf("group %s read %q on the source", g, got)
		}
	}
	want := []groups.NativeRange{{From: nativeAt, To: nativeAt + 5}}

	// status and plan's group listing name them.
	r, err := status.Make(t.Context(), setup, status.Options{Quiet: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range r.Groups {
		tr := g.Topics[0].Partitions[0].Translation
		if tr == nil || tr.Kind != groups.End || tr.Unreachable != 5 || !slices.Equal(tr.UnreachableNatives, want) || g.Migratable {
			t.Errorf("status of group %s: %+v, migratable %v", g.Group, tr, g.Migratable)
		}
	}
	wantBlocker := fmt.Sprintf(`consumer group "refused": 5 records written natively on the target in orders/0 (offsets %d-%d) lie before copies it already consumed`, nativeAt, nativeAt+4)
	if !slices.ContainsFunc(r.Blockers, func(b string) bool { return strings.HasPrefix(b, wantBlocker) }) {
		t.Errorf("status blockers %q lack %q", r.Blockers, wantBlocker)
	}

	c := setup
	// Refused, dry or not, and nothing committed.
	for _, dry := range []bool{true, false} {
		res, err := groups.Migrate(t.Context(), c, "refused", groups.MigrateOptions{DryRun: dry})
		var ue *groups.UnreachableError
		if !errors.Is(err, groups.ErrUnreachableNatives) || !errors.As(err, &ue) {
			t.Fatalf("dry %v: migrate: %v", dry, err)
		}
		if len(ue.Partitions) != 1 || ue.Partitions[0].Unreachable != 5 || !slices.Equal(ue.Partitions[0].UnreachableNatives, want) ||
			!strings.Contains(err.Error(), "--unreachable-natives=reread") || res.Committed != 0 {
			t.Errorf("dry %v: refusal %+v: %v", dry, ue.Partitions, err)
		}
	}
	if got := pair.Target.CommittedOffsets(t, "refused"); len(got) != 0 {
		t.Errorf("a refused group has offsets on the target: %v", got)
	}

	// Skip: the exact position, after the last copy; the group reads
	// only the natives written after it.
	res, err := groups.Migrate(t.Context(), c, "skipping", groups.MigrateOptions{Natives: groups.NativesSkip})
	if err != nil {
		t.Fatal(err)
	}
	skip := res.Partitions[0]
	if skip.Kind != groups.End || skip.Unreachable != 5 || !slices.Equal(skip.UnreachableNatives, want) || skip.Reread != 0 || len(res.Warnings) != 1 {
		t.Errorf("skip: %+v, warnings %q", skip, res.Warnings)
	}
	if got := readGroup(t, pair.Target, "skipping", 5); !slices.Equal(got, late) {
		t.Errorf("skipping group read %q, want %q", got, late)
	}

	// Reread: from the first unreachable native; the group reads every
	// native and the 20 copies after new-0..4 a second time.
	res, err = groups.Migrate(t.Context(), c, "rereading", groups.MigrateOptions{Natives: groups.NativesReread})
	if err != nil {
		t.Fatal(err)
	}
	rr := res.Partitions[0]
	if rr.To != nativeAt || rr.Unreachable != 5 || rr.Reread != 20 || rr.Record == nil || rr.Record.Origin != -1 || rr.Record.Offset != nativeAt {
		t.Errorf("reread: %+v", rr)
	}
	wantRead := slices.Concat(early, old[10:], late)
	if got := readGroup(t, pair.Target, "rereading", 30); !slices.Equal(got, wantRead) {
		t.Errorf("rereading group read %q, want %q", got, wantRead)
	}
	// Moving a group again after it consumed on the target is a rewind,
	// whatever the choice.
	if _, err = groups.Migrate(t.Context(), c, "skipping", groups.MigrateOptions{Natives: groups.NativesReread}); !errors.Is(err, groups.ErrRewind) {
		t.Errorf("second move of a group that consumed on the target: %v", err)
	}
}

// TestStoppedSourceUnconsumedOnly: the source is stopped; only what the
// group has not consumed is copied (--start committed --until end), and the
// group resumes on the target at exactly its next record.
func TestStoppedSourceUnconsumedOnly(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	produced := write(t, pair.Source, "old", 0, 40)
	consumed := readGroup(t, pair.Source, "app", 25)
	setup, setupRun := start(t, orderConfig(pair, config.UntilEnd, config.StartCommitted), nil)
	if err := setupRun.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(pair.Target.ConsumeAll(t, "orders")); n != 15 {
		t.Errorf("copied %d records, want the 15 unconsumed", n)
	}
	res, err := groups.Migrate(t.Context(), setup, "app", groups.MigrateOptions{})
	if err != nil || res.Partitions[0].Kind != groups.Exact || res.Partitions[0].To != 0 || res.Partitions[0].Record.Origin != 25 {
		t.Fatalf("migrate: %+v, %v", res, err)
	}
	consumed = append(consumed, readGroup(t, pair.Target, "app", 15)...)
	if !slices.Equal(consumed, produced) {
		t.Errorf("consumed\n%q\nwant\n%q", consumed, produced)
	}
}
