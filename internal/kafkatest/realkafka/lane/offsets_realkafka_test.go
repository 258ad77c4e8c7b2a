package lane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestOffsetsTranslateRealKafka: kmigrate offsets translate on Kafka 4.x,
// source and target, over a transactional source (committed and aborted
// transactions, markers) mirrored in two runs with records written natively
// on the target after each: every source offset translates to the position
// the records themselves give (the first record a consumer there receives
// is the first native after the copy before it, or the copy of the first
// committed source record at or after the offset), and a Spark checkpoint
// file is rewritten with those positions.
func TestOffsetsTranslateRealKafka(t *testing.T) {
	p := pair(t, source4, target4)
	topic := kafkatest.TopicName(t, "payments")
	p.Source.CreateTopic(t, topic, 1, map[string]string{"retention.ms": "-1"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	txn := p.Source.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID(kafkatest.TopicName(t, "txn")))
	write := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			if err := txn.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			for j := range 3 {
				if err := txn.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "payment %d.%d", i, j)}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(i%3 != 2)); err != nil {
				t.Fatal(err)
			}
		}
	}
	native := func(n int) {
		t.Helper()
		for i := range n {
			p.Target.Produce(t, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "native %d", i)})
		}
	}
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\n", topic))
	write(0, 6)
	mustRun(t, m.args("mirror", "--until", "end")...)
	deleteAtCleanup(t, p.Target, topic)
	native(2)
	write(6, 4)
	mustRun(t, m.args("mirror", "--until", "end")...)
	native(3)
	settle(t, p.Source, topic)
	settle(t, p.Target, topic)

	src := p.Source.ConsumeAll(t, topic)
	end, err := p.Source.Admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := end.Lookup(topic, 0)
	var copies, natives []int64
	copyOf := map[int64]int64{}
	for _, r := range p.Target.ConsumeAll(t, topic) {
		o, ok, err := trace.Find(r.Headers)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			copyOf[o.Offset] = r.Offset
			copies = append(copies, r.Offset)
		} else {
			natives = append(natives, r.Offset)
		}
	}
	if len(src) != 21 || len(copies) != 21 || len(natives) != 5 {
		t.Fatalf("fixture: %d committed source records, %d copies, %d natives; want 21, 21, 5", len(src), len(copies), len(natives))
	}
	// expect is the answer from the records alone.
	expect := func(c int64) (to int64, kind string, native int64) {
		j, _ := slices.BinarySearchFunc(src, c, func(r *kgo.Record, o int64) int { return int(r.Offset - o) })
		switch {
		case c > last.Offset:
			return -1, "not-yet-mirrored", 0
		case j == len(src):
			return copies[len(copies)-1] + 1, "end", 0
		case src[j].Offset == c:
			to, kind = copyOf[c], "exact"
		default: // before the first record too: the mirror began at 0
			// and read past those offsets (a gap, not expired)
			to, kind = copyOf[src[j].Offset], "next-copied"
		}
		bound := int64(0)
		for _, o := range copies {
			if o < to {
				bound = o + 1
			}
		}
		first := int64(-1)
		for _, n := range natives {
			if n >= bound && n < to {
				if first < 0 {
					first = n
				}
				native++
			}
		}
		if first >= 0 {
			to = first
		}
		return to, kind, native
	}

	var lines strings.Builder
	for c := int64(0); c <= last.Offset+1; c++ {
		fmt.Fprintf(&lines, "%s 0 %d\n", topic, c)
	}
	in := filepath.Join(t.TempDir(), "positions.txt")
	if err := os.WriteFile(in, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, m.args("offsets", "translate", in, "--output", "json", "--unreachable-natives", "skip")...)
	var rep struct {
		Answers []struct {
			From   struct{ Offset int64 }
			To     int64
			Kind   string
			Native int64
		}
		Errors []string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Answers) != int(last.Offset)+2 || len(rep.Errors) != 0 {
		t.Fatalf("offsets translate: %v, %d answers, errors %q\n%s", err, len(rep.Answers), rep.Errors, out)
	}
	for _, a := range rep.Answers {
		to, kind, native := expect(a.From.Offset)
		if a.To != to || a.Kind != kind || a.Native != native {
			t.Errorf("offset %d: translated to %d (%s, %d natives first), the records say %d (%s, %d)", a.From.Offset, a.To, a.Kind, a.Native, to, kind, native)
		}
	}

	// A Spark checkpoint's offsets file, rewritten in place.
	c := src[len(src)/2].Offset
	spark := filepath.Join(t.TempDir(), "7")
	body := fmt.Sprintf("v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":1764660000000}\n{%q:{\"0\":%d}}\n", topic, c)
	if err := os.WriteFile(spark, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	to, _, _ := expect(c)
	got := mustRun(t, m.args("offsets", "translate", spark, "--rewrite", "--unreachable-natives", "skip")...)
	if want := fmt.Sprintf("v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":1764660000000}\n{%q:{\"0\":%d}}\n", topic, to); got != want {
		t.Errorf("Spark offsets file rewritten\n%s\nwant\n%s", got, want)
	}
}
