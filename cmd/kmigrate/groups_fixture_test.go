package main_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// The fixture of the group journeys (groups_migrate_test.go,
// groups_rollback_test.go): a mirrored pair with seeded topics and one
// consumer group's history, run by a third-party client.

// The source topics of the group tests.
const (
	topicCompacted = "compacted" // cleanup.policy=compact, compacted: offset gaps, tombstones
	topicTxn       = "txn"       // committed and aborted transactions interleaved, plain records
	topicWide      = "wide"      // 12 partitions
)

var groupTopics = []string{topicCompacted, topicTxn, topicWide}

// interleave makes librdkafka fetch one or two batches per partition at a
// time, so that a consumer stopped after N messages stops in the middle
// of many partitions instead of after a few whole ones.
var interleave = map[string]string{"max.partition.fetch.bytes": "256"}

// groupConsumer is a third-party consumer of a group: it consumes from
// the committed offsets (else the earliest), commits what it received and
// leaves.
type groupConsumer interface {
	ConsumeGroup(ctx context.Context, group string, topics []string, max int) ([]kafkatest.Message, error)
}

// clientKind is a third-party client and what to expect of it.
type clientKind struct {
	new func(t *testing.T, c *kafkatest.Cluster) groupConsumer
	// covers are the translations ("topic kind") that the first phase
	// always produces with this client: the fixture fails without them,
	// so that the test cannot quietly stop covering them. The Python
	// driver commits one past the last message; librdkafka's automatic
	// commit (kcat) commits positions past the markers and aborted
	// records that follow it, so a transactional partition translates
	// exactly or to the next copy.
	covers []string
	// autoCommit: the client commits with librdkafka's automatic commit
	// at close. librdkafka 2.0.2 then applies the position updates of
	// transaction markers it fetched but never returned, and so commits,
	// on a transactional partition, past records it fetched and never
	// returned to the application (seen with kcat -G -c N, and with a
	// plain confluent-kafka-python consumer using enable.auto.commit).
	// The group has then skipped them before kmigrate is involved: the
	// fixture counts them as consumed (and logs them).
	autoCommit bool
}

var pythonConsumer = clientKind{
	new: func(t *testing.T, c *kafkatest.Cluster) groupConsumer {
		return kafkatest.NewPython(t, c).WithProperties(t, interleave)
	},
	covers: []string{topicCompacted + " next-copied", topicTxn + " next-copied", topicWide + " exact"},
}

var kcatConsumer = clientKind{
	new: func(t *testing.T, c *kafkatest.Cluster) groupConsumer {
		return kafkatest.NewKcat(t, c).WithProperties(t, interleave)
	},
	covers:     []string{topicCompacted + " next-copied", topicWide + " exact"},
	autoCommit: true,
}

// tp is a partition; source and target topics have the same names.
type tp struct {
	topic     string
	partition int32
}

func (k tp) String() string { return fmt.Sprintf("%s/%d", k.topic, k.partition) }

func compareTP(a, b tp) int {
	return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

// groupFixture is a mirrored pair and one consumer group's history.
type groupFixture struct {
	pair  *kafkatest.Pair
	group string
	// onSource and onTarget run the group's application on each cluster.
	onSource, onTarget groupConsumer
	// source holds each partition's committed-visible source records, by
	// offset: what the group must receive, exactly once, in this order.
	source map[tp][]*kgo.Record
	// copies holds the target copies by offset (no native records), and
	// copyAt the target offset of the copy of each source offset.
	copies map[tp][]*kgo.Record
	copyAt map[tp]map[int64]int64
	// read counts, per partition, the records the group has received so
	// far on either cluster: source[tp][:read[tp]].
	read map[tp]int
	// migrated are the group's source offsets that were migrated.
	migrated map[tp]int64
}

// newGroupFixture seeds the source, lets the group's application read part
// of every topic on the source (first phase), mirrors with `kmigrate mirror
// --until end` and migrates the group with `kmigrate groups migrate`,
// checking the report and the offsets committed on the target.
func newGroupFixture(t *testing.T, consumer clientKind) *groupFixture {
	t.Helper()
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	f := &groupFixture{
		pair: pair, group: "billing",
		onSource: consumer.new(t, pair.Source), onTarget: consumer.new(t, pair.Target),
		source: map[tp][]*kgo.Record{}, copies: map[tp][]*kgo.Record{}, copyAt: map[tp]map[int64]int64{},
		read: map[tp]int{},
	}
	// Mirroring in two runs gives the target partitions of txn and wide
	// two transactions each, so a commit marker in their middle.
	mirror := func() {
		t.Helper()
		if out, errOut, code := run(t, mirrorArgs(pair, "--until", "end")...); code != 0 {
			t.Fatalf("mirror: exit %d\n%s%s", code, out, errOut)
		}
	}
	seedGroupSource(t, pair.Source, mirror)
	for _, topic := range groupTopics {
		for _, r := range pair.Source.ConsumeAll(t, topic) {
			k := tp{topic, r.Partition}
			f.source[k] = append(f.source[k], r)
		}
	}
	if n := f.total(); n != 93+72+360 {
		t.Fatalf("the source holds %d committed-visible records, want 525: the fixture is not what the test expects", n)
	}

	// The application reads part of every topic on the source and stops.
	f.consume(t, false, 170)
	committed := committedOffsets(t, pair.Source, f.group)
	if consumer.autoCommit {
		f.skippedByClient(t, committed)
	}
	f.checkPositions(t, committed, false)
	if got, want := slices.SortedFunc(maps.Keys(committed), compareTP), f.readPartitions(); !slices.Equal(got, want) {
		t.Fatalf("the group committed on the source for %v, want the partitions it read: %v", got, want)
	}
	f.migrated = committed

	mirror()
	f.loadCopies(t)

	out, errOut, code := run(t, groupArgs(pair, "migrate", "--group", f.group)...)
	if code != 0 {
		t.Fatalf("groups migrate: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	rep := parseReport(t, out)
	g := rep.single(t, "source-to-target", false, f.group)
	want := f.expectMigrate(committed)
	checkPartitions(t, "groups migrate", g.Partitions, want)
	if g.Committed != len(want) || len(g.Warnings) > 0 || len(g.Unmirrored) > 0 {
		t.Errorf("groups migrate: committed %d partitions, warnings %q, unmirrored %v; want %d, none, none", g.Committed, g.Warnings, g.Unmirrored, len(want))
	}
	// The translations cover every kind a partly read source gives.
	kinds := map[string]int{}
	for _, p := range want {
		kinds[p.Topic+" "+p.Kind]++
		t.Logf("migrated %s", p)
	}
	for _, k := range consumer.covers {
		if kinds[k] == 0 {
			t.Errorf("no %s translation among %v: the first phase stopped where the test does not exercise that case", k, kinds)
		}
	}
	onTarget := committedOffsets(t, pair.Target, f.group)
	wantTarget := map[tp]int64{}
	for _, p := range want {
		wantTarget[tp{p.ToTopic, p.Partition}] = p.To
	}
	if !maps.Equal(onTarget, wantTarget) {
		t.Fatalf("the group's target offsets after groups migrate: %v, want %v", onTarget, wantTarget)
	}
	f.checkPositions(t, onTarget, true)
	return f
}

// seedGroupSource writes the three topics (93, 72 and 360 committed-visible
// records after compaction), each partition in many small batches. It
// calls between when the compacted topic and half of the others are
// written.
func seedGroupSource(t *testing.T, c *kafkatest.Cluster, between func()) {
	t.Helper()
	noRetention := map[string]string{"retention.ms": "-1"}
	c.CreateTopic(t, topicCompacted, 3, map[string]string{"retention.ms": "-1", "cleanup.policy": "compact"})
	c.CreateTopic(t, topicTxn, 2, noRetention)
	c.CreateTopic(t, topicWide, 12, noRetention)
	header := func(i int) []kgo.RecordHeader {
		if i%2 == 0 {
			return nil
		}
		return []kgo.RecordHeader{{Key: "seq", Value: fmt.Appendf(nil, "%d", i)}, {Key: "app", Value: []byte("billing")}}
	}

	// Compacted: 60 batches of 4 records per partition. Every tenth record
	// has a key of its own (every other one of those is a tombstone); the
	// others update three hot keys. Compaction keeps the unique keys, the
	// latest update of each hot key and the last batch: 31 records per
	// partition, with gaps between them.
	for round := range 60 {
		var rs []*kgo.Record
		for p := range int32(3) {
			for j := range 4 {
				i := round*4 + j
				r := &kgo.Record{Topic: topicCompacted, Partition: p, Key: fmt.Appendf(nil, "hot-%d", i%3),
					Value: fmt.Appendf(nil, "compacted p%d update %d", p, i), Headers: header(i)}
				if i%10 == 0 {
					r.Key = fmt.Appendf(nil, "unique-%d", i)
				}
				if i%20 == 0 {
					r.Value = nil
				}
				rs = append(rs, r)
			}
		}
		c.Produce(t, rs...)
	}
	c.RequireKfake(t).Compact()
	survivors := map[int32][]*kgo.Record{}
	for _, r := range c.ConsumeAll(t, topicCompacted) {
		survivors[r.Partition] = append(survivors[r.Partition], r)
	}
	for p := range int32(3) {
		rs := survivors[p]
		gaps, tombstones := 0, 0
		for i, r := range rs {
			if i > 0 && r.Offset > rs[i-1].Offset+1 {
				gaps++
			}
			if r.Value == nil {
				tombstones++
			}
		}
		if len(rs) != 31 || gaps < 20 || tombstones != 12 {
			t.Fatalf("compacted/%d after compaction: %d records, %d gaps, %d tombstones; want 31, >= 20, 12", p, len(rs), gaps, tombstones)
		}
	}

	// Transactional: two transactional producers write one record per
	// partition each, interleaved; one commits, the other aborts. Every
	// fifth round a plain record follows, before the markers. So every
	// committed-visible record (36 per partition) is followed by an
	// aborted record or a marker. The partitions end with an aborted
	// transaction.
	ctx := t.Context()
	a := c.Client(t, kgo.TransactionalID("billing-a"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	b := c.Client(t, kgo.TransactionalID("billing-b"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	write := func(cl *kgo.Client, what string, i int) {
		t.Helper()
		var rs []*kgo.Record
		for p := range int32(2) {
			rs = append(rs, &kgo.Record{Topic: topicTxn, Partition: p, Key: fmt.Appendf(nil, "txn-%d", i),
				Value: fmt.Appendf(nil, "%s p%d round %d", what, p, i), Headers: header(i)})
		}
		if cl == nil {
			c.Produce(t, rs...)
			return
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", what, err)
		}
	}
	txn := func(cl *kgo.Client, f func()) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		f()
	}
	end := func(cl *kgo.Client, commit bool) {
		t.Helper()
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	// Wide: 30 batches of one record per partition.
	//
	// Both are written in two halves, with between called in the middle.
	for half := range 2 {
		for i := half * 15; i < half*15+15; i++ {
			txn(a, func() { write(a, "committed", i) })
			txn(b, func() { write(b, "aborted", i) })
			if i%5 == 4 {
				write(nil, "plain", i)
			}
			end(a, true)
			end(b, false)
		}
		if half == 1 {
			txn(b, func() { write(b, "aborted", 30) })
			end(b, false)
		}
		for i := half * 15; i < half*15+15; i++ {
			var rs []*kgo.Record
			for p := range int32(12) {
				rs = append(rs, &kgo.Record{Topic: topicWide, Partition: p, Key: fmt.Appendf(nil, "wide-%d-%d", p, i),
					Value: fmt.Appendf(nil, "wide p%d record %d", p, i), Headers: header(i)})
			}
			c.Produce(t, rs...)
		}
		if half == 0 {
			between()
		}
	}
}

func (f *groupFixture) total() int {
	n := 0
	for _, rs := range f.source {
		n += len(rs)
	}
	return n
}

func (f *groupFixture) readPartitions() []tp {
	var out []tp
	for k, n := range f.read {
		if n > 0 {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, compareTP)
	return out
}
