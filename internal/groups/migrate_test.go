package groups_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// clusters opens migration name on pair, as the commands do.
func clusters(t *testing.T, pair *kafkatest.Pair, name string) *migration.Handle {
	t.Helper()
	return pair.Open(t, name, nil)
}

// copies returns, for partition p of topic on the target, the target
// offset of the copy of each source offset.
func copies(t *testing.T, pair *kafkatest.Pair, topic string, p int32) map[int64]int64 {
	t.Helper()
	out := map[int64]int64{}
	for _, r := range partitionOf(pair.Target.ConsumeAll(t, topic), p) {
		o, ok, err := trace.Find(r.Headers)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out[o.Offset] = r.Offset
		}
	}
	return out
}

// resume consumes topic on the target as group would after the migration
// (read_committed, from its committed offsets, no reset), until every
// partition reaches its end, and returns the values received per
// partition.
func resume(t *testing.T, c *kafkatest.Cluster, group, topic string) map[int32][]string {
	t.Helper()
	ends, err := c.Admin(t).ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	committed := c.CommittedOffsets(t, group)[topic]
	cl := c.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	defer cl.Close()
	got := map[int32][]string{}
	pos := map[int32]int64{}
	done := func() bool {
		all := true
		ends.Each(func(e kadm.ListedOffset) {
			start, ok := committed[e.Partition]
			if ok && max(pos[e.Partition]+1, start) < e.Offset-1 { // the last offset may be a marker
				all = false
			}
		})
		return all
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], string(r.Value))
			pos[r.Partition] = r.Offset
		})
	}
	return got
}

// sameParts compares partition results as they are printed (exported
// fields, records by value).
func sameParts(a, b []groups.PartitionResult) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func values(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// TestMigrate moves a group whose target partitions hold native records
// before, between and after the mirrored ones, checks every translated
// offset and printed record exactly, and that a consumer resuming on the
// target receives exactly the records after the source position.
func TestMigrate(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 3, nil)
	pair.Source.CreateTopic(t, "other", 1, noRetention)
	for p := range int32(3) {
		produceN(t, pair.Source, "orders", p, 10, 4, fmt.Sprintf("s%d", p))
	}
	produceN(t, pair.Target, "orders", 0, 3, 3, "n0") // native writes before the mirror: offsets 0..2
	mirrorOnce(t, pair, "m1", "orders")
	produceN(t, pair.Target, "orders", 0, 2, 1, "late") // producers that switched already
	// More source records copied after the native ones: on orders/0 the
	// native records sit between mirrored ones.
	var more []*kgo.Record
	for i := 10; i < 15; i++ {
		more = append(more, &kgo.Record{Topic: "orders", Partition: 0, Key: fmt.Appendf(nil, "s0-%d", i), Value: fmt.Appendf(nil, "s0-%d", i)})
	}
	pair.Source.Produce(t, more...)
	mirrorOnce(t, pair, "m1", "orders")
	produceN(t, pair.Source, "other", 0, 3, 3, "o")

	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 4, 1: 10, 2: 0}, "other": {0: 2}})
	c := clusters(t, pair, "m1")

	// n0-0..2 lie before the copies of s0-0..3, which the group consumed:
	// no position delivers them without re-reading those copies, so the
	// default refuses, dry or not.
	for _, dry := range []bool{true, false} {
		_, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{DryRun: dry})
		var ue *groups.UnreachableError
		if !errors.As(err, &ue) || !errors.Is(err, groups.ErrUnreachableNatives) || len(ue.Partitions) != 1 ||
			ue.Partitions[0].Partition != 0 || ue.Partitions[0].Unreachable != 3 || !slices.Equal(ue.Partitions[0].UnreachableNatives, []groups.NativeRange{{From: 0, To: 3}}) {
			t.Fatalf("dry %v: %v", dry, err)
		}
	}
	if got := pair.Target.CommittedOffsets(t, "app"); len(got) != 0 {
		t.Fatalf("a refused migration committed %v on the target", got)
	}
	skip := groups.MigrateOptions{Natives: groups.NativesSkip}
	dry, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{DryRun: true, Natives: groups.NativesSkip})
	if err != nil {
		t.Fatal(err)
	}
	if got := pair.Target.CommittedOffsets(t, "app"); len(got) != 0 {
		t.Fatalf("dry run committed %v on the target", got)
	}
	res, err := groups.Migrate(t.Context(), c, "app", skip)
	if err != nil {
		t.Fatal(err)
	}
	c0, c1, c2 := copies(t, pair, "orders", 0), copies(t, pair, "orders", 1), copies(t, pair, "orders", 2)
	if c0[0] != 3 {
		t.Fatalf("fixture: the first copy on orders/0 is at %d, want 3 (after 3 native records)", c0[0])
	}
	rec := func(p int32, src, at int64) *groups.Record {
		return &groups.Record{Offset: at, Origin: src, Key: fmt.Sprintf("%q", fmt.Sprintf("s%d-%d", p, src))}
	}
	want := []groups.PartitionResult{
		{Topic: "orders", Partition: 0, From: 4, ToTopic: "orders", To: c0[4], Kind: groups.Exact, Previous: -1, Changed: true, Record: rec(0, 4, c0[4]),
			Unreachable: 3, UnreachableNatives: []groups.NativeRange{{From: 0, To: 3}}},
		{Topic: "orders", Partition: 1, From: 10, ToTopic: "orders", To: c1[9] + 1, Kind: groups.End, Previous: -1, Changed: true},
		{Topic: "orders", Partition: 2, From: 0, ToTopic: "orders", To: c2[0], Kind: groups.Exact, Previous: -1, Changed: true, Record: rec(2, 0, c2[0])},
	}
	for _, r := range []*groups.GroupResult{dry, res} {
		for i := range r.Partitions {
			if r.Partitions[i].Record != nil {
				r.Partitions[i].Record.Timestamp = time.Time{}
			}
		}
		if !sameParts(r.Partitions, want) {
			t.Errorf("dry %v partitions:\ngot  %+v\nwant %+v", r.DryRun, r.Partitions, want)
		}
		skipped := fmt.Sprintf("orders/0: 3 records written natively on the target (offsets 0-2) lie before copies the group already consumed: skipped as chosen (--unreachable-natives=skip): the group resumes at offset %d and never reads them", c0[4])
		if r.Committed != 3 || r.Error != "" || !slices.Equal(r.Warnings, []string{skipped}) ||
			!slices.Equal(r.Unmirrored, []groups.Offset{{Topic: "other", Partition: 0, Offset: 2}}) {
			t.Errorf("result %+v", r)
		}
	}
	// c1[9]+1 is the commit marker's offset; the native records written
	// after the mirror are on orders/0 only.
	if got := pair.Target.CommittedOffsets(t, "app"); fmt.Sprint(got) != fmt.Sprint(map[string]map[int32]int64{"orders": {0: c0[4], 1: c1[9] + 1, 2: c2[0]}}) {
		t.Errorf("target offsets %v", got)
	}
	if _, ok := pair.Target.CommittedOffsets(t, "app")["other"]; ok {
		t.Error("an offset of the unmirrored topic was committed on the target")
	}

	// Idempotent.
	again, err := groups.Migrate(t.Context(), c, "app", skip)
	if err != nil || again.Committed != 0 || slices.ContainsFunc(again.Partitions, func(p groups.PartitionResult) bool { return p.Changed || p.Previous != p.To }) {
		t.Errorf("re-run: %+v, %v", again, err)
	}

	got := resume(t, pair.Target, "app", "orders")
	wantValues := map[int32][]string{0: slices.Concat(values("s0", 4, 10), values("late", 0, 2), values("s0", 10, 15)), 2: values("s2", 0, 10)}
	if fmt.Sprint(got) != fmt.Sprint(wantValues) {
		t.Errorf("the resumed consumer received\n%v\nwant\n%v", got, wantValues)
	}

	// A group that consumed up to source 10 has not seen the native
	// records between the copies of source 9 and 10: it resumes at the
	// first of them.
	pair.Source.CommitOffsets(t, "app2", map[string]map[int32]int64{"orders": {0: 10}})
	res, err = groups.Migrate(t.Context(), c, "app2", skip)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Partitions[0]
	// Target orders/0: copy of 9, the commit marker, late-0, late-1,
	// copy of 10.
	if p.Kind != groups.Exact || p.To != c0[9]+2 || p.Native != 2 || p.Record.Origin != 10 || p.Record.Offset != c0[10] || c0[10] != c0[9]+4 {
		t.Errorf("app2: %+v, record %+v, copies of 9 and 10 at %d and %d", p, p.Record, c0[9], c0[10])
	}
	wantWarn := fmt.Sprintf("orders/0: 2 records were written natively on the target between the last copy the group consumed and the copy of source offset 10: the group has not seen them, so it resumes at offset %d and reads them first", c0[9]+2)
	if len(res.Warnings) != 2 || res.Warnings[0] != wantWarn || p.Unreachable != 3 {
		t.Errorf("app2 warnings %q", res.Warnings)
	}
	if got := resume(t, pair.Target, "app2", "orders"); !slices.Equal(got[0], slices.Concat(values("late", 0, 2), values("s0", 10, 15))) {
		t.Errorf("app2 resumed with %v", got[0])
	}
}

// TestMigrateExpired: a committed offset below the source log start (the
// records expired before the mirror copied them) translates to the first
// copy, with the loss reported.
func TestMigrateExpired(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	produceN(t, pair.Source, "orders", 0, 10, 10, "s")
	deleteRecords(t, pair.Source, "orders", 0, 5)
	mirrorOnce(t, pair, "m1", "orders")
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 2}})
	res, err := groups.Migrate(t.Context(), clusters(t, pair, "m1"), "app", groups.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Partitions[0]
	if p.Kind != groups.Expired || p.To != 0 || p.Skipped != 3 || p.Record == nil || p.Record.Origin != 5 {
		t.Errorf("partition %+v", p)
	}
	want := "orders/0: committed offset 2 is below the first copied record: the group will not see the 3 records of source offsets 2..4, which expired from the source before they could be copied"
	if !slices.Equal(res.Warnings, []string{want}) {
		t.Errorf("warnings %q, want %q", res.Warnings, want)
	}
	if got := resume(t, pair.Target, "app", "orders"); !slices.Equal(got[0], values("s", 5, 10)) {
		t.Errorf("resumed with %v", got[0])
	}
}

// TestMigrateRefusals: a group active on either cluster, one with nothing
// to move, no state, and a rewind are refused without writing.
func TestMigrateRefusals(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	produceN(t, pair.Source, "orders", 0, 10, 10, "s")
	c := clusters(t, pair, "m1")
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 4}})

	_, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{})
	if !errors.Is(err, state.ErrNoState) && !errors.Is(err, migration.ErrNoState) {
		t.Errorf("no state: %v", err)
	}
	mirrorOnce(t, pair, "m1", "orders")

	_, err = groups.Migrate(t.Context(), c, "nobody", groups.MigrateOptions{})
	if want := `group "nobody" has no committed offsets on the source: no committed offsets`; err == nil || err.Error() != want {
		t.Errorf("unknown group: %v, want %s", err, want)
	}

	joinGroup(t, pair.Target, "busy", "orders")
	pair.Source.CommitOffsets(t, "busy", map[string]map[int32]int64{"orders": {0: 4}})
	_, err = groups.Migrate(t.Context(), c, "busy", groups.MigrateOptions{})
	if want := `group "busy" is Stable with 1 member on the target: group is active: stop the consumers using its name on the target first`; err == nil || err.Error() != want {
		t.Errorf("busy target: %v\nwant %s", err, want)
	}

	// Active on the source: refused at once, migrated once it stops
	// within --wait.
	cl := pair.Source.Client(t, kgo.ConsumerGroup("app"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	cl.PollFetches(ctx)
	cancel()
	_, err = groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{})
	if !errors.Is(err, groups.ErrActive) || err.Error() != `group "app" is Stable with 1 member on the source: group is active: stop the application on the source first (or pass --wait to wait for it)` {
		t.Errorf("active source: %v", err)
	}
	if got := pair.Target.CommittedOffsets(t, "app"); len(got) != 0 {
		t.Fatalf("a refused migration committed %v", got)
	}
	time.AfterFunc(500*time.Millisecond, cl.Close)
	res, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{WaitInactive: 20 * time.Second})
	if err != nil || res.Committed != 1 {
		t.Fatalf("after waiting: %+v, %v", res, err)
	}

	// The application ran on the target and consumed further: migrating
	// again would move it back.
	pair.Target.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 9}})
	res, err = groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{})
	want := fmt.Sprintf("the group has consumed further on the target than the translation (orders/0 at 9, translation %d): would move the group backwards; it has run there since it was migrated: pass --force to move it back (it will re-read those records)", res.Partitions[0].To)
	if !errors.Is(err, groups.ErrRewind) || err.Error() != want || res.Committed != 0 {
		t.Errorf("rewind: %v\nwant %s", err, want)
	}
	if got := pair.Target.CommittedOffsets(t, "app")["orders"][0]; got != 9 {
		t.Errorf("a refused rewind moved the group to %d", got)
	}
	if res, err = groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{AllowRewind: true}); err != nil || res.Committed != 1 {
		t.Errorf("forced rewind: %+v, %v", res, err)
	}
}

// TestMigrateWaitsForTheMirror: offsets the mirror has not copied yet fail
// at once without a wait, and succeed once a running mirror copies them.
func TestMigrateWaitsForTheMirror(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	produceN(t, pair.Source, "orders", 0, 10, 10, "s")
	mirrorOnce(t, pair, "m1", "orders")
	produceN(t, pair.Source, "orders", 0, 5, 5, "t")
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 13}})
	c := clusters(t, pair, "m1")

	res, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{})
	want := "the mirror has not copied up to the group's committed offsets on orders/0 (committed 13, copied below 10): not mirrored yet: is kmigrate mirror running? (raise --mirror-wait to wait longer)"
	if !errors.Is(err, groups.ErrNotMirrored) || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if res.Partitions[0].Kind != groups.NotYetMirrored || len(pair.Target.CommittedOffsets(t, "app")) != 0 {
		t.Errorf("result %+v", res)
	}
	mirrored := make(chan error, 1)
	go func() { mirrored <- mirrorErr(t, pair, "m1", "orders") }()
	defer func() {
		if err := <-mirrored; err != nil {
			t.Error(err)
		}
	}()
	res, err = groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{MirrorWait: 30 * time.Second})
	if err != nil || res.Partitions[0].Kind != groups.Exact || res.Partitions[0].Record.Origin != 13 {
		t.Fatalf("after waiting: %+v, %v", res, err)
	}
	if got := resume(t, pair.Target, "app", "orders"); !slices.Equal(got[0], values("t", 3, 5)) {
		t.Errorf("resumed with %v", got[0])
	}
}

// TestMigrateToTimestamp: the approximate fallback resets to the first
// target record at or after a time.
func TestMigrateToTimestamp(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var rs []*kgo.Record
	for i := range 10 {
		rs = append(rs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, "s-%d", i), Timestamp: base.Add(time.Duration(i) * time.Minute)})
	}
	pair.Source.Produce(t, rs...)
	mirrorOnce(t, pair, "m1", "orders")
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 1}})
	res, err := groups.Migrate(t.Context(), clusters(t, pair, "m1"), "app", groups.MigrateOptions{ToTimestamp: base.Add(6*time.Minute + time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Partitions[0]
	if res.Method != groups.MethodTimestamp || p.Kind != groups.Timestamp || p.To != copyOf(t, pair, "orders", 7) || p.Record.Origin != 7 || len(res.Warnings) != 1 {
		t.Errorf("result %+v, partition %+v", res, p)
	}
}

// TestRollback: a group migrated to the target consumes further there,
// past native records, and is rolled back: it resumes on the source at the
// first record it has not seen, and the native records after its position
// are counted.
func TestRollback(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 2, nil)
	for p := range int32(2) {
		produceN(t, pair.Source, "orders", p, 10, 5, fmt.Sprintf("s%d", p))
	}
	mirrorOnce(t, pair, "m1", "orders")
	produceN(t, pair.Target, "orders", 0, 3, 1, "n") // producers switched: native records after the copies
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 2, 1: 3}})
	c := clusters(t, pair, "m1")
	if _, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The application read on to the copy of source 6 on orders/0 and to
	// the end on orders/1, then stopped.
	c0, c1 := copies(t, pair, "orders", 0), copies(t, pair, "orders", 1)
	pair.Target.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: c0[6], 1: c1[9] + 2}})

	dry, err := groups.Rollback(t.Context(), c, "app", groups.RollbackOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := pair.Source.CommittedOffsets(t, "app")["orders"]; got[0] != 2 || got[1] != 3 {
		t.Fatalf("dry run moved the source group to %v", got)
	}
	res, err := groups.Rollback(t.Context(), c, "app", groups.RollbackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*groups.GroupResult{dry, res} {
		for i := range r.Partitions {
			if r.Partitions[i].Record != nil {
				r.Partitions[i].Record.Timestamp = time.Time{}
			}
		}
		want := []groups.PartitionResult{
			{Topic: "orders", Partition: 0, From: c0[6], ToTopic: "orders", To: 6, Kind: groups.Exact, Previous: 2, Changed: true, Native: 3,
				Record: &groups.Record{Offset: 6, Origin: -1, Key: `"s0-6"`}},
			{Topic: "orders", Partition: 1, From: c1[9] + 2, ToTopic: "orders", To: 10, Kind: groups.End, Previous: 3, Changed: true},
		}
		if !sameParts(r.Partitions, want) {
			t.Errorf("dry %v:\ngot  %+v\nwant %+v", r.DryRun, r.Partitions, want)
		}
		wantWarn := fmt.Sprintf("orders/0: 3 records after the group's position (offset %d) were written natively on the target: the source does not have them, so the group will not see them after the rollback", c0[6])
		if !slices.Equal(r.Warnings, []string{wantWarn}) {
			t.Errorf("warnings %q", r.Warnings)
		}
	}
	got := resume(t, pair.Source, "app", "orders")
	if want := map[int32][]string{0: values("s0", 6, 10)}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resumed on the source with %v, want %v", got, want)
	}
	// Rolled back, the group is where it was: a re-run changes nothing.
	if again, err := groups.Rollback(t.Context(), c, "app", groups.RollbackOptions{}); err != nil || again.Committed != 0 {
		t.Errorf("re-run: %+v, %v", again, err)
	}
}

// TestMigrateTransactional: a committed offset on an aborted record
// translates to the copy of the next committed record, a consumer resumes
// there, and a rollback right after the migration writes nothing: the
// source position is already the equivalent one.
func TestMigrateTransactional(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "payments", 1, nil)
	cl := pair.Source.Client(t, kgo.TransactionalID("app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := func(commit bool, prefix string, n int) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var rs []*kgo.Record
		for i := range n {
			rs = append(rs, &kgo.Record{Topic: "payments", Value: fmt.Appendf(nil, "%s-%d", prefix, i)})
		}
		if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(t.Context(), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	txn(true, "a", 3)  // 0..2, marker 3
	txn(false, "x", 2) // aborted 4..5, marker 6
	txn(true, "b", 2)  // 7..8, marker 9
	mirrorOnce(t, pair, "m1", "payments")
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"payments": {0: 4}})
	c := clusters(t, pair, "m1")
	res, err := groups.Migrate(t.Context(), c, "app", groups.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Partitions[0]
	if p.Kind != groups.NextCopied || p.To != copyOf(t, pair, "payments", 7) || p.Record.Origin != 7 || p.Record.Key != "" {
		t.Errorf("partition %+v, record %+v", p, p.Record)
	}
	back, err := groups.Rollback(t.Context(), c, "app", groups.RollbackOptions{})
	if err != nil || back.Committed != 0 || back.Partitions[0].To != 4 || back.Partitions[0].Record.Offset != 7 {
		t.Errorf("rollback after migrate: %+v, %v", back, err)
	}
	if got := resume(t, pair.Target, "app", "payments"); !slices.Equal(got[0], values("b", 0, 2)) {
		t.Errorf("resumed with %v", got[0])
	}
}

// TestMigrateSharedState: groups migrated with one StateCache (groups
// migrate --all) share a read of the state, and a group whose offsets are
// past that read is translated from a fresh one, without --mirror-wait.
func TestMigrateSharedState(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil)
	produceN(t, pair.Source, "orders", 0, 10, 10, "s")
	mirrorOnce(t, pair, "m1", "orders")
	c := clusters(t, pair, "m1")
	cache := &groups.StateCache{}

	pair.Source.CommitOffsets(t, "a", map[string]map[int32]int64{"orders": {0: 5}})
	res, err := groups.Migrate(t.Context(), c, "a", groups.MigrateOptions{Cache: cache})
	if err != nil || res.Partitions[0].Kind != groups.Exact || res.Partitions[0].Record.Origin != 5 {
		t.Fatalf("group a: %+v, %v", res, err)
	}
	produceN(t, pair.Source, "orders", 0, 5, 5, "t")
	mirrorOnce(t, pair, "m1", "orders")
	pair.Source.CommitOffsets(t, "b", map[string]map[int32]int64{"orders": {0: 13}})
	res, err = groups.Migrate(t.Context(), c, "b", groups.MigrateOptions{Cache: cache})
	if err != nil || res.Partitions[0].Kind != groups.Exact || res.Partitions[0].Record.Origin != 13 {
		t.Fatalf("group b, past the shared read: %+v, %v", res, err)
	}
	if got := resume(t, pair.Target, "b", "orders"); !slices.Equal(got[0], values("t", 3, 5)) {
		t.Errorf("group b resumed with %v", got[0])
	}
}
