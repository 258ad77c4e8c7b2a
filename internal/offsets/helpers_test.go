package offsets_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/offsets"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestMain fails the run if any goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// createTopic creates topic with n partitions on both clusters (the
// target's first, so that natives can be written before the mirror runs).
func createTopic(t *testing.T, pair *kafkatest.Pair, topic string, n int32, cfg map[string]string) {
	t.Helper()
	src := map[string]string{"retention.ms": "-1"}
	for k, v := range cfg {
		src[k] = v
	}
	pair.Source.CreateTopic(t, topic, n, src)
	pair.Target.CreateTopic(t, topic, n, map[string]string{"retention.ms": "-1"})
}

// mirrorOnce runs a bounded exactly-once copy of topic for migration name.
func mirrorOnce(t *testing.T, pair *kafkatest.Pair, name, topic string) {
	t.Helper()
	sel, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	settings := config.DefaultMirror()
	settings.Until = config.UntilEnd
	settings.TransactionInterval = 50 * time.Millisecond
	m, err := mirror.New(mirror.Options{
		Name: name, Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID,
		Topics: []mirror.Topic{{Source: topic, Target: topic}}, Groups: sel, Settings: settings, StateReplicationFactor: -1,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("mirror: %v (context: %v)", err, ctx.Err())
	}
}

// produceN produces n records to topic/p on c, batch records per batch.
func produceN(t *testing.T, c *kafkatest.Cluster, topic string, p int32, n, batch int, prefix string) {
	t.Helper()
	for i := 0; i < n; i += batch {
		var rs []*kgo.Record
		for j := i; j < min(n, i+batch); j++ {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "%s-%d", prefix, j), Value: fmt.Appendf(nil, "%s-%d", prefix, j)})
		}
		c.Produce(t, rs...)
	}
}

// partitionData is one partition's records, read from both clusters: the
// ground truth the answers are checked against.
type partitionData struct {
	src     []*kgo.Record   // copyable source records below the checkpoint
	copyOf  map[int64]int64 // source offset -> target offset of its copy
	copies  []int64         // target offsets of copies, ascending
	natives []int64         // target offsets of native records, ascending
	part    groups.Partition
}

func readPartition(t *testing.T, pair *kafkatest.Pair, snap *state.Snapshot, topic string, p int32) partitionData {
	t.Helper()
	tp := state.TopicPartition{Topic: topic, Partition: p}
	part, err := groups.FromSnapshot(snap, tp)
	if err != nil {
		t.Fatal(err)
	}
	d := partitionData{copyOf: map[int64]int64{}, part: part}
	for _, r := range pair.Source.ConsumeAll(t, topic) {
		if r.Partition == p && r.Offset < part.Checkpoint.Next {
			d.src = append(d.src, r)
		}
	}
	for _, r := range pair.Target.ConsumeAll(t, topic) {
		if r.Partition != p {
			continue
		}
		o, ok, err := trace.Find(r.Headers)
		if err != nil {
			t.Fatalf("%s target offset %d: %v", tp, r.Offset, err)
		}
		if ok {
			d.copyOf[o.Offset] = r.Offset
			d.copies = append(d.copies, r.Offset)
		} else {
			d.natives = append(d.natives, r.Offset)
		}
	}
	if len(d.copies) != len(d.src) {
		t.Fatalf("%s: %d copies, %d source records: the fixture did not mirror everything", tp, len(d.copies), len(d.src))
	}
	return d
}

// expect is the answer for source offset c with natives skipped, computed
// from the records alone (not from the offset map): the copy of the first
// source record at or after c, moved back to the first native after the
// copy before it; the natives before that copy are unreachable.
func (d partitionData) expect(topic string, p int32, c int64) offsets.Answer {
	a := offsets.Answer{From: offsets.Position{Topic: topic, Partition: p, Offset: c}, ToTopic: topic}
	if c > d.part.Checkpoint.Next {
		a.Kind, a.To = groups.NotYetMirrored.String(), -1
		return a
	}
	j, _ := slices.BinarySearchFunc(d.src, c, func(r *kgo.Record, o int64) int { return int(r.Offset - o) })
	switch {
	case j == len(d.src):
		a.Kind, a.To = groups.End.String(), 0
		if n := len(d.copies); n > 0 {
			a.To = d.copies[n-1] + 1
		}
	case d.src[j].Offset == c:
		a.Kind, a.To = groups.Exact.String(), d.copyOf[c]
	case j == 0 || d.inExpired(c):
		a.Kind, a.To, a.Skipped = groups.Expired.String(), d.copyOf[d.src[j].Offset], d.src[j].Offset-c
	default:
		a.Kind, a.To = groups.NextCopied.String(), d.copyOf[d.src[j].Offset]
	}
	bound := a.To
	if a.Kind != groups.End.String() {
		bound = 0
		for _, o := range d.copies {
			if o < a.To {
				bound = o + 1
			}
		}
		first := int64(-1)
		for _, n := range d.natives {
			if n >= bound && n < a.To {
				if first < 0 {
					first = n
				}
				a.Native++
			}
		}
		if first >= 0 {
			a.To = first
		}
	}
	for _, n := range d.natives {
		if n < bound {
			if k := len(a.UnreachableNatives); k > 0 && a.UnreachableNatives[k-1].To == n {
				a.UnreachableNatives[k-1].To++
			} else {
				a.UnreachableNatives = append(a.UnreachableNatives, groups.NativeRange{From: n, To: n + 1})
			}
			a.Unreachable++
		}
	}
	return a
}

func (d partitionData) inExpired(c int64) bool {
	for _, e := range d.part.Expired {
		if c >= e.From && c < e.Until {
			return true
		}
	}
	return false
}

// checkAll translates every source offset of topic/p from 0 to the
// checkpoint + 2 with natives skipped and compares with expect.
func checkAll(t *testing.T, pair *kafkatest.Pair, name, topic string, p int32) partitionData {
	t.Helper()
	h := pair.Open(t, name, nil)
	snap, err := h.LoadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d := readPartition(t, pair, snap, topic, p)
	tr := offsets.FromSnapshot(snap, h.Target(), h.SourceID(), offsets.Options{Natives: groups.NativesSkip})
	for c := int64(0); c <= d.part.Checkpoint.Next+2; c++ {
		want := d.expect(topic, p, c)
		got, err := tr.Translate(t.Context(), want.From)
		if err != nil || !equal(got, want) {
			t.Errorf("%s/%d: Translate(%d) = %+v, %v\nwant %+v", topic, p, c, got, err, want)
		}
	}
	return d
}

// equal compares answers, treating nil and empty native lists alike.
func equal(a, b offsets.Answer) bool {
	if len(a.UnreachableNatives) == 0 && len(b.UnreachableNatives) == 0 {
		a.UnreachableNatives, b.UnreachableNatives = nil, nil
	}
	return a.From == b.From && a.ToTopic == b.ToTopic && a.To == b.To && a.Kind == b.Kind && a.Skipped == b.Skipped &&
		a.Native == b.Native && a.Unreachable == b.Unreachable && a.Reread == b.Reread && slices.Equal(a.UnreachableNatives, b.UnreachableNatives)
}
