package offsets_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/offsets"
)

// plainWithNatives mirrors orders (2 partitions) in three runs with
// records written natively on the target before, between and after them
// and an aborted native transaction, as migration "plain".
func plainWithNatives(t *testing.T) *kafkatest.Pair {
	t.Helper()
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	createTopic(t, pair, "orders", 2, nil)
	native := func(n int, what string) {
		t.Helper()
		for p := range int32(2) {
			produceN(t, pair.Target, "orders", p, n, 1, what)
		}
	}
	native(3, "native-before")
	produceN(t, pair.Source, "orders", 0, 40, 7, "a")
	produceN(t, pair.Source, "orders", 1, 15, 4, "a")
	mirrorOnce(t, pair, "plain", "orders")
	native(5, "native-between")
	cl := pair.Target.Client(t, kgo.TransactionalID("native-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "orders", Partition: p, Value: []byte("aborted-native")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(t.Context(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	produceN(t, pair.Source, "orders", 0, 30, 5, "b")
	produceN(t, pair.Source, "orders", 1, 10, 10, "b")
	mirrorOnce(t, pair, "plain", "orders")
	native(1, "native-between-2")
	produceN(t, pair.Source, "orders", 0, 12, 12, "c")
	mirrorOnce(t, pair, "plain", "orders")
	native(4, "native-after")
	return pair
}

// Every source offset of a plain source with native target writes gets
// the answer the records give (natives first, unreachable natives
// counted), and exactly the position, kind and counts groups migrate
// computes (a dry run) for a group stopped at that offset.
func TestTranslatePlainWithNatives(t *testing.T) {
	pair := plainWithNatives(t)
	h := pair.Open(t, "plain", nil)
	for p := range int32(2) {
		d := checkAll(t, pair, "plain", "orders", p)
		snap, err := h.LoadState(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		tr := offsets.FromSnapshot(snap, h.Target(), h.SourceID(), offsets.Options{Natives: groups.NativesSkip})
		group := fmt.Sprintf("app-%d", p)
		for c := int64(0); c <= d.part.Checkpoint.Next; c++ {
			pair.Source.CommitOffsets(t, group, map[string]map[int32]int64{"orders": {p: c}})
			res, err := groups.Migrate(t.Context(), h, group, groups.MigrateOptions{DryRun: true, Natives: groups.NativesSkip})
			if err != nil {
				t.Fatalf("groups migrate %s at %d: %v", group, c, err)
			}
			got, err := tr.Translate(t.Context(), offsets.Position{Topic: "orders", Partition: p, Offset: c})
			pr := res.Partitions[0]
			if err != nil || got.To != pr.To || got.Kind != fmt.Sprint(pr.Kind) || got.Skipped != pr.Skipped || got.Native != pr.Native || got.Unreachable != pr.Unreachable {
				t.Errorf("orders/%d at %d: translate %+v, %v; groups migrate %+v", p, c, got, err, pr)
			}
		}
	}
}

// Unreachable natives: refused by default (as groups migrate refuses),
// the exact position with skip, the first of them with reread (counting
// the copies read again).
func TestTranslateUnreachableChoices(t *testing.T) {
	pair := plainWithNatives(t)
	h := pair.Open(t, "plain", nil)
	snap, err := h.LoadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d := readPartition(t, pair, snap, "orders", 0)
	pos := offsets.Position{Topic: "orders", Partition: 0, Offset: 60} // in the second run: natives before and after the first
	want := d.expect("orders", 0, pos.Offset)
	if want.Unreachable != 8 || want.UnreachableNatives[0] != (groups.NativeRange{From: 0, To: 3}) {
		t.Fatalf("fixture: want the 3 natives before the first run and the 5 after it unreachable, got %+v", want)
	}
	refuse := offsets.FromSnapshot(snap, h.Target(), h.SourceID(), offsets.Options{})
	if _, err := refuse.Translate(t.Context(), pos); !errors.Is(err, groups.ErrUnreachableNatives) || !errors.Is(err, offsets.ErrUnreachable) {
		t.Errorf("refuse: err %v, want ErrUnreachable", err)
	}
	skip := offsets.FromSnapshot(snap, h.Target(), h.SourceID(), offsets.Options{Natives: groups.NativesSkip})
	if got, err := skip.Translate(t.Context(), pos); err != nil || !equal(got, want) {
		t.Errorf("skip: %+v, %v; want %+v", got, err, want)
	}
	reread := offsets.FromSnapshot(snap, h.Target(), h.SourceID(), offsets.Options{Natives: groups.NativesReread})
	got, err := reread.Translate(t.Context(), pos)
	var copiesBefore int64
	for _, o := range d.copies {
		if o < want.To {
			copiesBefore++
		}
	}
	if err != nil || got.To != 0 || got.Reread != copiesBefore {
		t.Errorf("reread: %+v, %v; want To 0 (the first native) and %d copies re-read", got, err, copiesBefore)
	}
	if _, err := skip.Translate(t.Context(), offsets.Position{Topic: "payments", Offset: 1}); !errors.Is(err, offsets.ErrNotMigrated) {
		t.Errorf("topic outside the migration: %v, want ErrNotMigrated", err)
	}
}

// A compacted source: offsets removed by compaction translate to the copy
// of the next survivor, with natives on the target after the copies.
func TestTranslateCompacted(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src := pair.Source.RequireKfake(t)
	createTopic(t, pair, "customers", 1, map[string]string{"cleanup.policy": "compact"})
	for i := range 60 {
		key := fmt.Sprintf("hot-%d", i%3)
		if i%10 == 5 {
			key = fmt.Sprintf("unique-%d", i)
		}
		pair.Source.Produce(t, &kgo.Record{Topic: "customers", Key: []byte(key), Value: fmt.Appendf(nil, "update %d", i)})
	}
	src.Compact()
	if n := len(pair.Source.ConsumeAll(t, "customers")); n >= 40 {
		t.Fatalf("compaction left %d records: the fixture needs gaps", n)
	}
	produceN(t, pair.Target, "customers", 0, 2, 1, "native-before")
	mirrorOnce(t, pair, "compacted", "customers")
	produceN(t, pair.Target, "customers", 0, 3, 1, "native-after")
	checkAll(t, pair, "compacted", "customers", 0)
}

// A transactional source: aborted records and markers translate to the
// next committed record; natives are written between two mirror runs.
func TestTranslateTransactional(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	createTopic(t, pair, "payments", 1, nil)
	cl := pair.Source.Client(t, kgo.TransactionalID("payments-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := func(i int) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "payments", Value: fmt.Appendf(nil, "payment %d.%d", i, j)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(t.Context(), kgo.TransactionEndTry(i%3 != 2)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		txn(i)
	}
	mirrorOnce(t, pair, "txn", "payments")
	produceN(t, pair.Target, "payments", 0, 2, 1, "native")
	for i := 6; i < 9; i++ {
		txn(i)
	}
	mirrorOnce(t, pair, "txn", "payments")
	d := checkAll(t, pair, "txn", "payments", 0)
	if len(d.natives) != 2 || len(d.src) != 18 {
		t.Fatalf("fixture: %d natives and %d committed source records, want 2 and 18", len(d.natives), len(d.src))
	}
}

// A Spark checkpoint's offsets (JSON object and the whole offsets log
// file) and a Flink-style list are rewritten offset by offset with the
// answers the records give; --reverse takes each answer back to where a
// consumer at it would first read.
func TestRewriteSparkAndFlink(t *testing.T) {
	pair := plainWithNatives(t)
	h := pair.Open(t, "plain", nil)
	snap, err := h.LoadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d := [2]partitionData{readPartition(t, pair, snap, "orders", 0), readPartition(t, pair, snap, "orders", 1)}
	tr := offsets.FromSnapshot(snap, h.Target(), h.SourceID(), offsets.Options{Natives: groups.NativesSkip})
	for _, pos := range [][2]int64{{0, 0}, {5, 3}, {39, 14}, {45, 20}, {82, 25}} {
		spark := fmt.Sprintf(`{"orders":{"0":%d,"1":%d}}`, pos[0], pos[1])
		logFile := "v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":1764660000000,\"conf\":{\"spark.sql.shuffle.partitions\":\"200\"}}\n" + spark + "\n"
		flink := fmt.Sprintf(`[{"topic":"orders","partition":0,"offset":%d,"splitId":"orders-0"},{"topic":"orders","partition":1,"offset":%d,"splitId":"orders-1"}]`, pos[0], pos[1])
		want := [2]offsets.Answer{d[0].expect("orders", 0, pos[0]), d[1].expect("orders", 1, pos[1])}
		for _, in := range []string{spark, logFile, flink} {
			parsed, err := offsets.Parse([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			answers, err := tr.All(t.Context(), parsed.Positions)
			if err != nil {
				t.Fatal(err)
			}
			out, err := parsed.Rewrite(answers)
			if err != nil {
				t.Fatal(err)
			}
			var wantOut string
			switch parsed.Format {
			case offsets.SparkJSON:
				wantOut = fmt.Sprintf("{\"orders\":{\"0\":%d,\"1\":%d}}\n", want[0].To, want[1].To)
			case offsets.SparkLog:
				wantOut = fmt.Sprintf("v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":1764660000000,\"conf\":{\"spark.sql.shuffle.partitions\":\"200\"}}\n{\"orders\":{\"0\":%d,\"1\":%d}}\n", want[0].To, want[1].To)
			case offsets.List:
				var got []map[string]any
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatal(err)
				}
				for i, g := range got {
					if g["offset"] != float64(want[i].To) || g["topic"] != "orders" || g["splitId"] != fmt.Sprintf("orders-%d", i) || g["partition"] != float64(i) {
						t.Errorf("flink list at %v: element %d = %v, want offset %d", pos, i, g, want[i].To)
					}
				}
				continue
			}
			if string(out) != wantOut {
				t.Errorf("%s at %v: rewritten\n%s\nwant\n%s", parsed.Format, pos, out, wantOut)
			}
		}
	}
	// The way back: every target offset goes to the source offset of the
	// first copy at or after it (or the end of the copied data).
	back := offsets.FromSnapshot(snap, h.Target(), h.SourceID(), offsets.Options{Reverse: true})
	for p := range int32(2) {
		copies := d[p].copies
		end := d[p].src[len(d[p].src)-1].Offset + 1
		for o := int64(0); o <= copies[len(copies)-1]+3; o++ {
			want := end
			for src, tgt := range d[p].copyOf {
				if tgt >= o && (want == end || src < want) {
					want = src
				}
			}
			got, err := back.Translate(t.Context(), offsets.Position{Topic: "orders", Partition: p, Offset: o})
			if err != nil || got.To != want || got.ToTopic != "orders" {
				t.Errorf("reverse orders/%d at %d = %+v, %v; want source offset %d", p, o, got, err, want)
			}
		}
	}
}
