package migrate_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

// runnerWith opens the migration cfg describes and builds its Runner with
// opts.
func runnerWith(t *testing.T, cfg *config.Config, opts migrate.Options) *migrate.Runner {
	t.Helper()
	h, err := migration.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	r, err := migrate.New(t.Context(), h, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunnerMovesToUnits: a migration copied as one unit moves to 4 units
// (--units 4) while mirroring continuously; a partition added on the
// source joins a unit; a later run without --units keeps 4, and --units 2
// is refused with nothing written. The target ends equal to the source.
func TestRunnerMovesToUnits(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 3, map[string]string{"retention.ms": "-1"})
	produce(t, pair.Source, "orders", 3, 30)
	cfg := testConfig(t, pair)
	cfg.Mirror.Until = config.UntilEnd
	if err := runnerWith(t, cfg, migrate.Options{Units: 1}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}

	cont := *cfg
	cont.Mirror.Until = config.UntilNever
	r := runnerWith(t, &cont, migrate.Options{Units: 4})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	produce(t, pair.Source, "orders", 3, 30)
	waitFor(t, "60 records on the target", func() bool { return len(pair.Target.ConsumeAll(t, "orders")) == 60 })
	if _, err := pair.Source.Admin(t).CreatePartitions(t.Context(), 1, "orders"); err != nil {
		t.Fatal(err)
	}
	srcAdm := pair.Source.Admin(t)
	waitFor(t, "partition 3 on the target", func() bool {
		md, err := pair.Target.Admin(t).Metadata(t.Context(), "orders")
		smd, serr := srcAdm.Metadata(t.Context(), "orders")
		return err == nil && serr == nil && len(md.Topics["orders"].Partitions) == 4 && len(smd.Topics["orders"].Partitions) == 4
	})
	produce(t, pair.Source, "orders", 4, 40) // 10 into the new partition 3
	waitFor(t, "100 records on the target", func() bool { return len(pair.Target.ConsumeAll(t, "orders")) == 100 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	stateTopic := state.TopicName(migration.DefaultName(pair.Source.ID, pair.Target.ID))
	stateEnd := func() int64 {
		ends, err := pair.Target.Admin(t).ListEndOffsets(t.Context(), stateTopic)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := ends.Lookup(stateTopic, 0)
		return o.Offset
	}
	before := stateEnd()
	err := runnerWith(t, cfg, migrate.Options{Units: 2}).Run(t.Context())
	if !errors.Is(err, migrate.ErrBlocked) || !strings.Contains(err.Error(), "pass --units 4") {
		t.Fatalf("--units 2 after 4: %v, want ErrBlocked naming 4", err)
	}
	if after := stateEnd(); after != before {
		t.Errorf("the refused run wrote to the state topic: end %d, was %d", after, before)
	}
	produce(t, pair.Source, "orders", 4, 8)
	last := runnerWith(t, cfg, migrate.Options{})
	if err := last.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := last.Stats().Records; got != 8 {
		t.Errorf("last run copied %d records, want 8", got)
	}
	values := func(c *kafkatest.Cluster) map[int32][]string {
		out := map[int32][]string{}
		for _, r := range c.ConsumeAll(t, "orders") {
			out[r.Partition] = append(out[r.Partition], string(r.Value))
		}
		return out
	}
	want, got := values(pair.Source), values(pair.Target)
	n := 0
	for _, vs := range want {
		n += len(vs)
	}
	if n != 108 || len(want) != 4 || !maps.EqualFunc(want, got, slices.Equal) {
		t.Errorf("target holds %v, source %v (want 108 records on both, equal in order per partition)", got, want)
	}
}

// TestProcessesStartedTogether: two processes of one new migration plan at
// once (replicas of a Deployment starting together); one creates the
// target topics first. The other, whose plan still says "create", finds
// them claimed in the migration's state and resumes them instead of
// refusing them as someone else's; nothing is copied twice.
func TestProcessesStartedTogether(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 3, map[string]string{"retention.ms": "-1"})
	produce(t, pair.Source, "orders", 3, 30)
	cfg := testConfig(t, pair)
	cfg.Mirror.Until = config.UntilEnd
	late := runnerWith(t, cfg, migrate.Options{Units: 2})
	if got := late.Plan().Topics[0].Action; got != "create" {
		t.Fatalf("the second process plans %q for orders, want create", got)
	}
	if err := runnerWith(t, cfg, migrate.Options{Units: 2}).Run(t.Context()); err != nil {
		t.Fatalf("first process: %v", err)
	}
	if err := late.Run(t.Context()); err != nil {
		t.Fatalf("second process: %v", err)
	}
	if got := late.Plan().Topics[0].Action; got != "resume" {
		t.Errorf("the second process ends with %q for orders, want resume", got)
	}
	got := pair.Target.ConsumeAll(t, "orders")
	seen := map[string]bool{}
	for _, r := range got {
		seen[string(r.Value)] = true
	}
	if len(got) != 30 || len(seen) != 30 {
		t.Errorf("target holds %d records, %d distinct; want 30 and 30", len(got), len(seen))
	}
}
