package cutover_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/cutover"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/state"
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
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
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

// TestProducersFirst: producers move to the target first; the group keeps
// draining the source; once it caught up it moves, and reads on the target
// exactly the records producers wrote there, each once.
func TestProducersFirst(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	produced := write(t, pair.Source, "old", 0, 30)
	cfg := orderConfig(pair, config.UntilNever, config.StartEarliest)
	setup, err := migrate.Prepare(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- migrate.Run(ctx, setup, nil, nil) }()

	consumed := readGroup(t, pair.Source, "app", 10)
	// Producers switch: new records land on the target, between the
	// copies the mirror still writes.
	produced = append(produced, write(t, pair.Target, "new", 0, 5)...)
	consumed = append(consumed, readGroup(t, pair.Source, "app", 20)...) // the group drains the source
	produced = append(produced, write(t, pair.Target, "new", 5, 10)...)
	waitFor(t, "the mirror to copy the source", func() bool {
		snap, err := setup.LoadState(t.Context())
		return err == nil && snap.Checkpoints[state.TopicPartition{Topic: "orders"}].Next >= 30
	})
	res, err := groups.Migrate(t.Context(), setup.Groups(nil), "app", groups.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Partitions[0]
	// The group consumed all 30 source records: it resumes at the end of
	// the copies, then reads the 10 native records.
	if p.Kind != "end" || p.From != 30 {
		t.Errorf("translation %+v", p)
	}
	consumed = append(consumed, readGroup(t, pair.Target, "app", 10)...)
	slices.Sort(produced)
	slices.Sort(consumed)
	if !slices.Equal(consumed, produced) {
		t.Errorf("consumed %d records, produced %d; not each once:\n%q\n%q", len(consumed), len(produced), consumed, produced)
	}
	time.Sleep(1200 * time.Millisecond) // the source quiet period
	if _, err := cutover.Promote(t.Context(), setup.StatusInputs(), state.TopicName("m1"), nil, false,
		status.Options{Quiet: time.Second, Sample: 200 * time.Millisecond}); err != nil {
		t.Errorf("promote: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("mirror: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the mirror did not end after the promotion")
	}
	stop()
}

// TestStoppedSourceUnconsumedOnly: the source is stopped; only what the
// group has not consumed is copied (--start committed --until end), and the
// group resumes on the target at exactly its next record.
func TestStoppedSourceUnconsumedOnly(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	produced := write(t, pair.Source, "old", 0, 40)
	consumed := readGroup(t, pair.Source, "app", 25)
	setup, err := migrate.Prepare(t.Context(), orderConfig(pair, config.UntilEnd, config.StartCommitted), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	if err := migrate.Run(t.Context(), setup, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(pair.Target.ConsumeAll(t, "orders")); n != 15 {
		t.Errorf("copied %d records, want the 15 unconsumed", n)
	}
	res, err := groups.Migrate(t.Context(), setup.Groups(nil), "app", groups.MigrateOptions{})
	if err != nil || res.Partitions[0].Kind != "exact" || res.Partitions[0].To != 0 || res.Partitions[0].Record.Origin != 25 {
		t.Fatalf("migrate: %+v, %v", res, err)
	}
	consumed = append(consumed, readGroup(t, pair.Target, "app", 15)...)
	if !slices.Equal(consumed, produced) {
		t.Errorf("consumed\n%q\nwant\n%q", consumed, produced)
	}
}
