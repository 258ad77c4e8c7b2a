package verify_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/verify"
)

// A compacted source and a compacted target: copies of records that
// compaction removed from the source since are not compared, copies that
// compaction removed from the target are explained by a later record with
// the same key (a copy, or a record written on the target) or by being
// tombstones, and nothing is a problem. The expected counts come from
// reading both sides.
func TestCompacted(t *testing.T) {
	pair := newPair(t)
	src, tgt := pair.Source.RequireKfake(t), pair.Target.RequireKfake(t)
	// The target drops tombstones at once; the source keeps them.
	createTopic(t, pair, "orders", 1, map[string]string{"cleanup.policy": "compact"},
		map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "0"})
	i := 0
	rounds := func(n int) {
		for range n {
			var rs []*kgo.Record
			for range 4 {
				r := &kgo.Record{Topic: "orders", Key: fmt.Appendf(nil, "hot-%d", i%3), Value: fmt.Appendf(nil, "update %d", i)}
				switch {
				case i%10 == 5:
					r.Key = fmt.Appendf(nil, "unique-%d", i)
				case i%10 == 7:
					r.Value = nil
				}
				rs = append(rs, r)
				i++
			}
			pair.Source.Produce(t, rs...)
		}
	}
	// Copy a compacted source, copy more, compact the target (copies of
	// the first run are superseded by copies of the second, the last
	// hot-0 by a record written on the target; tombstones go), then
	// write hot-1 and hot-2 on the source and compact it (their copied
	// versions go, their copies stay).
	rounds(20)
	src.Compact()
	firstSurvivor := pair.Source.ConsumeAll(t, "orders")[0].Offset
	mirrorOnce(t, pair, nil, "orders")
	rounds(10)
	mirrorOnce(t, pair, nil, "orders")
	next := endOffset(t, pair.Source, "orders", 0)
	// A record written on the target supersedes the latest copy of hot-0.
	pair.Target.Produce(t, &kgo.Record{Topic: "orders", Key: []byte("hot-0"), Value: []byte("native")})
	tgt.Compact()
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Key: []byte("hot-1")}, &kgo.Record{Topic: "orders", Key: []byte("hot-2")})
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Key: []byte("last")}) // compaction keeps the last batch as it is
	src.Compact()

	onSource := map[int64]bool{}
	for _, r := range pair.Source.ConsumeAll(t, "orders") {
		if r.Offset < next {
			onSource[r.Offset] = true
		}
	}
	at, _ := copies(t, pair.Target, "orders", 0)
	var matched, compactedOnSource, compactedOnTarget int64
	for o := range at {
		if onSource[o] {
			matched++
		} else {
			compactedOnSource++
		}
	}
	for o := range onSource {
		if _, ok := at[o]; !ok {
			compactedOnTarget++
		}
	}
	if compactedOnSource == 0 || compactedOnTarget == 0 || firstSurvivor == 0 {
		t.Fatalf("fixture: %d copies compacted on the source, %d source records compacted on the target, first survivor %d: want gaps on both sides", compactedOnSource, compactedOnTarget, firstSurvivor)
	}
	rep := run(t, pair, nil)
	pr := partition(t, rep, "orders", 0)
	want := verify.Counts{SourceRecords: int64(len(onSource)), Copies: matched, Matched: matched, Native: 1,
		CompactedOnSource: compactedOnSource, CompactedOnTarget: compactedOnTarget, BeforeFirstCopy: firstSurvivor - startOffset(t, pair.Source, "orders", 0),
		Pending: endOffset(t, pair.Source, "orders", 0) - next}
	if !rep.OK || pr.Counts != want || pr.Digest.Comparable {
		t.Errorf("ok %v, counts %+v, digest %+v; want ok, %+v, not comparable", rep.OK, pr.Counts, pr.Digest, want)
	}
}

// A transactional source: records of aborted transactions are not copied
// and not expected; markers take offsets on both sides.
func TestTransactionalSource(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 1, nil, nil)
	a := pair.Source.Client(t, kgo.TransactionalID("app-a"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	b := pair.Source.Client(t, kgo.TransactionalID("app-b"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	seq := 0
	write := func(cl *kgo.Client, what string) {
		t.Helper()
		var rs []*kgo.Record
		for range 3 {
			rs = append(rs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, "%s %d", what, seq)})
			seq++
		}
		if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	end := func(cl *kgo.Client, commit bool) {
		t.Helper()
		if err := cl.EndTransaction(t.Context(), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		for _, cl := range []*kgo.Client{a, b} {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
		}
		write(a, "committed")
		write(b, "aborted")
		write(a, "committed")
		end(b, false)
		end(a, true)
	}
	mirrorOnce(t, pair, nil, "orders")
	committed := int64(len(pair.Source.ConsumeAll(t, "orders")))
	if committed != 18 {
		t.Fatalf("fixture: %d committed records, want 18", committed)
	}
	rep := run(t, pair, nil)
	pr := partition(t, rep, "orders", 0)
	if want := (verify.Counts{SourceRecords: 18, Copies: 18, Matched: 18}); !rep.OK || pr.Counts != want || !pr.Digest.Match {
		t.Errorf("ok %v, counts %+v, digest %+v; want ok, %+v", rep.OK, pr.Counts, pr.Digest, want)
	}
	if end := endOffset(t, pair.Source, "orders", 0); pr.Source != (verify.Range{From: 0, Until: end}) {
		t.Errorf("source range %+v, want [0, %d)", pr.Source, end)
	}
}

// Consumer groups: where each resumes on the target against the
// translation of its source position. Groups moved by groups.Migrate pass
// (including one that first reads records written natively on the target);
// a group committed below its translation, or missing a partition, fails;
// one that consumed further on the target is reported; one with nothing on
// the target is not migrated.
func TestGroupPositions(t *testing.T) {
	pair := newPair(t)
	createTopic(t, pair, "orders", 2, nil, nil)
	produceN(t, pair.Source, "orders", 0, 10, "a")
	produceN(t, pair.Source, "orders", 1, 10, "a")
	mirrorOnce(t, pair, nil, "orders")
	natives := produceN(t, pair.Target, "orders", 0, 3, "native")
	produceN(t, pair.Source, "orders", 0, 10, "b")
	produceN(t, pair.Source, "orders", 1, 10, "b")
	mirrorOnce(t, pair, nil, "orders")
	at0, _ := copies(t, pair.Target, "orders", 0)
	at1, _ := copies(t, pair.Target, "orders", 1)

	commit := func(group string, src, tgt map[int32]int64) {
		t.Helper()
		pair.Source.CommitOffsets(t, group, map[string]map[int32]int64{"orders": src})
		if tgt != nil {
			pair.Target.CommitOffsets(t, group, map[string]map[int32]int64{"orders": tgt})
		}
	}
	commit("g-native", map[int32]int64{0: 10}, nil)
	commit("g-exact", map[int32]int64{0: 15, 1: 5}, nil)
	commit("g-advanced", map[int32]int64{0: 5}, map[int32]int64{0: at0[8]})
	commit("g-behind", map[int32]int64{0: 15}, map[int32]int64{0: at0[12]})
	commit("g-missing", map[int32]int64{0: 3, 1: 3}, map[int32]int64{0: at0[3]})
	commit("g-none", map[int32]int64{0: 1}, nil)
	cs := pair.Open(t, migrationName, nil)
	// g-exact consumed copies after the natives: moving it skips them,
	// explicitly.
	for _, g := range []string{"g-native", "g-exact"} {
		if _, err := groups.Migrate(t.Context(), cs, g, groups.MigrateOptions{Natives: groups.NativesSkip}); err != nil {
			t.Fatalf("migrate %s: %v", g, err)
		}
	}

	pos := func(p int32, src, tgt, tr int64, status string) verify.GroupPartition {
		return verify.GroupPartition{Topic: "orders", Partition: p, TargetTopic: "orders", SourceOffset: src, TargetOffset: tgt, Translation: tr, Kind: groups.Exact, Status: status}
	}
	want := []verify.GroupReport{
		{Group: "g-advanced", Status: verify.GroupOK, Partitions: []verify.GroupPartition{pos(0, 5, at0[8], at0[5], verify.PositionAdvanced)}},
		{Group: "g-behind", Status: verify.GroupFailed, Partitions: []verify.GroupPartition{pos(0, 15, at0[12], at0[15], verify.PositionBehind)}},
		{Group: "g-exact", Status: verify.GroupOK, Partitions: []verify.GroupPartition{pos(0, 15, at0[15], at0[15], verify.PositionOK), pos(1, 5, at1[5], at1[5], verify.PositionOK)}},
		{Group: "g-missing", Status: verify.GroupFailed, Partitions: []verify.GroupPartition{pos(0, 3, at0[3], at0[3], verify.PositionOK), pos(1, 3, -1, at1[3], verify.PositionMissing)}},
		{Group: "g-native", Status: verify.GroupOK, Partitions: []verify.GroupPartition{pos(0, 10, natives[0].Offset, at0[10], verify.PositionNativeFirst)}},
		{Group: "g-none", Status: verify.GroupNotMigrated, Partitions: []verify.GroupPartition{}},
	}
	rep := run(t, pair, nil)
	details := map[string]string{}
	for i := range rep.Groups {
		for j := range rep.Groups[i].Partitions {
			p := &rep.Groups[i].Partitions[j]
			details[rep.Groups[i].Group] += p.Detail
			p.Detail = ""
		}
	}
	if !reflect.DeepEqual(rep.Groups, want) {
		t.Errorf("groups:\n got %+v\nwant %+v", rep.Groups, want)
	}
	if !strings.Contains(details["g-behind"], "would re-read 3 copies") {
		t.Errorf("g-behind detail %q", details["g-behind"])
	}
	skipped := fmt.Sprintf("3 records written natively on the target (offsets %d-%d) lie before copies the group consumed: its position never delivers them", natives[0].Offset, natives[2].Offset)
	if details["g-exact"] != skipped || strings.Contains(details["g-native"], "lie before") {
		t.Errorf("g-exact detail %q, want %q; g-native detail %q", details["g-exact"], skipped, details["g-native"])
	}
	if rep.OK || rep.Totals.GroupsChecked != 6 || rep.Totals.GroupsFailed != 2 || rep.Totals.Problems != 0 {
		t.Errorf("ok %v, totals %+v: want failed by two groups, no partition problem", rep.OK, rep.Totals)
	}

	only, err := config.NewSelection([]string{"g-exact|g-native"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep = run(t, pair, func(o *runConfig) { o.groups = &only })
	if !rep.OK || len(rep.Groups) != 2 || rep.Groups[0].Group != "g-exact" || rep.Groups[1].Group != "g-native" {
		t.Errorf("selected groups: ok %v, %+v", rep.OK, rep.Groups)
	}
}
