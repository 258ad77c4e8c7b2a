package main_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// The issue-4 acceptance tests: an application's consumer group, run by a
// third-party client (confluent-kafka-python or kcat), moves from the
// source to the target with `kmigrate groups migrate` and back with
// `kmigrate groups rollback`, and receives every committed-visible source
// record exactly once and in order, on compacted, transactional and
// many-partition topics.

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

// consume runs the group's application on the source or the target for up
// to max messages (0: to the end of every partition) and checks each
// message it receives: counting from the group's first read on either
// cluster, the i-th message of a partition must be the i-th
// committed-visible source record of that partition (on the target: its
// copy, at the offset the copy has there), with the same key, value,
// headers (tracing headers aside) and timestamp. So nothing is received
// twice, nothing is skipped and nothing else is received.
func (f *groupFixture) consume(t *testing.T, onTarget bool, max int) {
	t.Helper()
	cl, where := f.onSource, "source"
	if onTarget {
		cl, where = f.onTarget, "target"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	msgs, err := cl.ConsumeGroup(ctx, f.group, groupTopics, max)
	if err != nil {
		t.Fatalf("consume on the %s: %v", where, err)
	}
	if max > 0 && len(msgs) != max {
		t.Fatalf("consume on the %s: received %d messages, want %d", where, len(msgs), max)
	}
	for _, m := range msgs {
		k := tp{m.Topic, m.Partition}
		recs, i := f.source[k], f.read[k]
		if i >= len(recs) {
			t.Fatalf("consume on the %s: %s offset %d (%s) received after all %d records of the partition: a duplicate or a record the source never had",
				where, k, m.Offset, content(m), len(recs))
		}
		want := recs[i]
		at := want.Offset
		if onTarget {
			at = f.copyAt[k][want.Offset]
		}
		if got, exp := content(m), content(kafkatest.FromRecord(want)); m.Offset != at || got != exp {
			t.Fatalf("consume on the %s: record %d of %s received is offset %d %s; want offset %d (source offset %d) %s",
				where, i, k, m.Offset, got, at, want.Offset, exp)
		}
		f.read[k]++
	}
	t.Logf("consumed %d messages on the %s", len(msgs), where)
}

// skippedByClient counts as consumed the records of transactional source
// partitions that the client committed past without returning them (see
// clientKind.autoCommit).
func (f *groupFixture) skippedByClient(t *testing.T, committed map[tp]int64) {
	t.Helper()
	for _, k := range slices.SortedFunc(maps.Keys(committed), compareTP) {
		recs := f.source[k]
		for k.topic == topicTxn && f.read[k] < len(recs) && recs[f.read[k]].Offset < committed[k] {
			t.Logf("%s: the client committed offset %d without returning source offset %d: librdkafka's automatic commit skipped it, not kmigrate",
				k, committed[k], recs[f.read[k]].Offset)
			f.read[k]++
		}
	}
}

// checkPositions checks that the group's committed offsets on one cluster
// are its positions: every record (copy) before the offset was received
// and none at or after it.
func (f *groupFixture) checkPositions(t *testing.T, committed map[tp]int64, onTarget bool) {
	t.Helper()
	for k, at := range committed {
		recs, i := f.source[k], f.read[k]
		off := func(j int) int64 {
			if onTarget {
				return f.copyAt[k][recs[j].Offset]
			}
			return recs[j].Offset
		}
		if i > 0 && off(i-1) >= at || i < len(recs) && off(i) < at {
			t.Errorf("%s: the group's offset on the %s is %d, but it received %d of %d records (on that cluster, last at %d, next at %d)",
				k, cluster(onTarget), at, i, len(recs), offOr(i > 0, func() int64 { return off(i - 1) }), offOr(i < len(recs), func() int64 { return off(i) }))
		}
	}
}

func cluster(target bool) string {
	if target {
		return "target"
	}
	return "source"
}

func offOr(ok bool, f func() int64) int64 {
	if ok {
		return f()
	}
	return -1
}

// loadCopies reads the target topics and maps each copy to its source
// record through its tracing header; the copies must be the source's
// records, in order, each once.
func (f *groupFixture) loadCopies(t *testing.T) {
	t.Helper()
	for _, topic := range groupTopics {
		for _, r := range f.pair.Target.ConsumeAll(t, topic) {
			k := tp{topic, r.Partition}
			o, ok, err := trace.Find(r.Headers)
			if !ok || err != nil || o.ClusterID != f.pair.Source.ID || o.Topic != topic || o.Partition != r.Partition {
				t.Fatalf("target %s offset %d: tracing header %+v (found %v, %v), want a copy of source %s", k, r.Offset, o, ok, err, k)
			}
			i := len(f.copies[k])
			if i >= len(f.source[k]) || f.source[k][i].Offset != o.Offset ||
				content(kafkatest.FromRecord(r)) != content(kafkatest.FromRecord(f.source[k][i])) {
				t.Fatalf("target %s offset %d is the copy of source offset %d, want copy %d of the source partition in order", k, r.Offset, o.Offset, i)
			}
			f.copies[k] = append(f.copies[k], r)
			if f.copyAt[k] == nil {
				f.copyAt[k] = map[int64]int64{}
			}
			f.copyAt[k][o.Offset] = r.Offset
		}
	}
	for k, rs := range f.source {
		if len(f.copies[k]) != len(rs) {
			t.Fatalf("target %s holds %d copies, want %d", k, len(f.copies[k]), len(rs))
		}
	}
}

// content is what a consumer must see of a record, whichever cluster it
// reads: key, value, headers without kmigrate's and the timestamp.
func content(m kafkatest.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "key %s value %s ts %d headers [", quoted(m.Key), quoted(m.Value), m.Timestamp.UnixMilli())
	for _, h := range m.Headers {
		if !trace.IsTracing(h.Key) {
			fmt.Fprintf(&b, " %q=%s", h.Key, quoted(h.Value))
		}
	}
	b.WriteString(" ]")
	return b.String()
}

func quoted(s *string) string {
	if s == nil {
		return "null"
	}
	return strconv.Quote(*s)
}

// printableKey is how the report prints a record key (UTF-8 keys quoted).
func printableKey(k []byte) string {
	if k == nil {
		return ""
	}
	if !utf8.Valid(k) || len(k) > 64 {
		panic("the fixture's keys are short UTF-8")
	}
	return strconv.Quote(string(k))
}

func committedOffsets(t *testing.T, c *kafkatest.Cluster, group string) map[tp]int64 {
	t.Helper()
	out := map[tp]int64{}
	for topic, ps := range c.CommittedOffsets(t, group) {
		for p, o := range ps {
			out[tp{topic, p}] = o
		}
	}
	return out
}

// groupArgs are the arguments of `kmigrate groups <cmd>` for pair with
// JSON output.
func groupArgs(pair *kafkatest.Pair, cmd string, extra ...string) []string {
	return append([]string{"groups", cmd, "--source", strings.Join(pair.Source.Addrs, ","), "--target", strings.Join(pair.Target.Addrs, ","),
		"--output", "json", "--log-level", "warn"}, extra...)
}

// moveReport is the JSON `groups migrate` and `groups rollback` print.
type moveReport struct {
	Migration string       `json:"migration"`
	Direction string       `json:"direction"`
	DryRun    bool         `json:"dry_run"`
	Groups    []movedGroup `json:"groups"`
	OK        bool         `json:"ok"`
}

type movedGroup struct {
	Group      string           `json:"group"`
	Method     string           `json:"method"`
	DryRun     bool             `json:"dry_run"`
	Committed  int              `json:"committed"`
	Partitions []movedPartition `json:"partitions"`
	Unmirrored []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"unmirrored"`
	Warnings []string `json:"warnings"`
	Error    string   `json:"error"`
}

type movedPartition struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	From      int64        `json:"from"`
	ToTopic   string       `json:"to_topic"`
	To        int64        `json:"to"`
	Kind      string       `json:"kind"`
	Skipped   int64        `json:"skipped"`
	Previous  int64        `json:"previous"`
	Changed   bool         `json:"changed"`
	Record    *movedRecord `json:"record"`
	Native    int64        `json:"native"`
}

type movedRecord struct {
	Offset    int64     `json:"offset"`
	Origin    int64     `json:"origin"`
	Key       string    `json:"key"`
	Timestamp time.Time `json:"timestamp"`
}

func (p movedPartition) String() string {
	s := fmt.Sprintf("%s/%d from %d to %s/%d kind %s skipped %d previous %d changed %v native %d",
		p.Topic, p.Partition, p.From, p.ToTopic, p.To, p.Kind, p.Skipped, p.Previous, p.Changed, p.Native)
	if r := p.Record; r != nil {
		return s + fmt.Sprintf(" record{offset %d origin %d key %s ts %d}", r.Offset, r.Origin, r.Key, r.Timestamp.UnixMilli())
	}
	return s + " record none"
}

func parseReport(t *testing.T, out string) moveReport {
	t.Helper()
	var rep moveReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("parse the JSON report: %v\n%s", err, out)
	}
	return rep
}

// single checks the report's frame and returns its one group, which must
// have been moved (or, dry, could be).
func (r moveReport) single(t *testing.T, direction string, dry bool, group string) movedGroup {
	t.Helper()
	if r.Direction != direction || r.DryRun != dry || !r.OK || len(r.Groups) != 1 {
		t.Fatalf("report: direction %q dry_run %v ok %v with %d groups; want %q %v true with 1", r.Direction, r.DryRun, r.OK, len(r.Groups), direction, dry)
	}
	g := r.Groups[0]
	if g.Group != group || g.Method != "exact" || g.DryRun != dry || g.Error != "" {
		t.Fatalf("report: group %q method %q dry_run %v error %q; want %q exact %v no error", g.Group, g.Method, g.DryRun, g.Error, group, dry)
	}
	return g
}

// checkPartitions compares a report's partitions with the expected ones,
// in topic and partition order.
func checkPartitions(t *testing.T, what string, got, want []movedPartition) {
	t.Helper()
	lines := func(ps []movedPartition) []string {
		ps = slices.Clone(ps)
		slices.SortFunc(ps, func(a, b movedPartition) int { return compareTP(tp{a.Topic, a.Partition}, tp{b.Topic, b.Partition}) })
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	g, w := lines(got), lines(want)
	if slices.Equal(g, w) {
		return
	}
	var b strings.Builder
	for i := range max(len(g), len(w)) {
		gl, wl := "(none)", "(none)"
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		mark := "  "
		if gl != wl {
			mark = "! "
		}
		fmt.Fprintf(&b, "%sgot  %s\n%swant %s\n", mark, gl, mark, wl)
	}
	t.Errorf("%s: the report's partitions differ from the expected translations:\n%s", what, b.String())
}

// expectMigrate is what groups migrate must report for the group's source
// offsets: each partition goes to the copy of the first source record at
// or after the committed offset (exact when that offset holds it,
// next-copied across a compaction gap, an aborted record or a marker), or
// past the last copy when the group had read everything (end).
func (f *groupFixture) expectMigrate(committed map[tp]int64) []movedPartition {
	var want []movedPartition
	for _, k := range slices.SortedFunc(maps.Keys(committed), compareTP) {
		c := committed[k]
		p := movedPartition{Topic: k.topic, Partition: k.partition, From: c, ToTopic: k.topic, To: f.forward(k, c), Previous: -1, Changed: true}
		if next, ok := f.sourceAtOrAfter(k, c); ok {
			p.Kind = "next-copied"
			if next.Offset == c {
				p.Kind = "exact"
			}
			p.Record = &movedRecord{Offset: p.To, Origin: next.Offset, Key: printableKey(next.Key), Timestamp: next.Timestamp}
		} else {
			p.Kind = "end"
		}
		want = append(want, p)
	}
	return want
}

// sourceAtOrAfter returns the first committed-visible source record of k
// at or after offset o.
func (f *groupFixture) sourceAtOrAfter(k tp, o int64) (*kgo.Record, bool) {
	recs := f.source[k]
	i, _ := slices.BinarySearchFunc(recs, o, func(r *kgo.Record, o int64) int { return cmp.Compare(r.Offset, o) })
	if i == len(recs) {
		return nil, false
	}
	return recs[i], true
}

// forward is where a group at source offset o of k resumes on the target:
// the copy of the first source record at or after o, else past the last
// copy.
func (f *groupFixture) forward(k tp, o int64) int64 {
	if r, ok := f.sourceAtOrAfter(k, o); ok {
		return f.copyAt[k][r.Offset]
	}
	cs := f.copies[k]
	return cs[len(cs)-1].Offset + 1
}

// expectRollback is what groups rollback must report for the group's
// target offsets: each partition goes back to the source offset of the
// first copy at or after the target offset (exact on a copy, next-copied
// on one of kmigrate's commit markers), or to the end of the source
// partition as mirrored when no copy follows (end); native counts the
// records written natively on the target after the offset.
func (f *groupFixture) expectRollback(t *testing.T, committed, previous map[tp]int64, native map[tp]int64) []movedPartition {
	t.Helper()
	ends, err := f.pair.Source.Admin(t).ListEndOffsets(t.Context(), groupTopics...)
	if err != nil {
		t.Fatal(err)
	}
	var want []movedPartition
	for _, k := range slices.SortedFunc(maps.Keys(committed), compareTP) {
		at := committed[k]
		cs := f.copies[k]
		i, _ := slices.BinarySearchFunc(cs, at, func(r *kgo.Record, c int64) int { return cmp.Compare(r.Offset, c) })
		p := movedPartition{Topic: k.topic, Partition: k.partition, From: at, ToTopic: k.topic, Previous: -1, Native: native[k]}
		if prev, ok := previous[k]; ok {
			p.Previous = prev
		}
		if i < len(cs) {
			p.To, p.Kind = f.source[k][i].Offset, "next-copied" // copies are the source records in order
			if cs[i].Offset == at {
				p.Kind = "exact"
			}
		} else {
			end, _ := ends.Lookup(k.topic, k.partition)
			p.To, p.Kind = end.Offset, "end"
		}
		// A source offset the group already has that is equivalent (it
		// translates to the same target position: only markers, aborted
		// or removed records lie between) is kept; its record is then the next one.
		if p.Previous >= 0 && f.forward(k, p.Previous) == at && p.Previous != p.To {
			p.To, p.Kind = p.Previous, "next-copied"
		}
		if src, ok := f.sourceAtOrAfter(k, p.To); ok {
			p.Record = &movedRecord{Offset: src.Offset, Origin: -1, Key: printableKey(src.Key), Timestamp: src.Timestamp}
		}
		p.Changed = p.To != p.Previous
		want = append(want, p)
	}
	return want
}

// finish checks that the group has received every committed-visible source
// record.
func (f *groupFixture) finish(t *testing.T) {
	t.Helper()
	for _, k := range slices.SortedFunc(maps.Keys(f.source), compareTP) {
		if f.read[k] != len(f.source[k]) {
			t.Errorf("%s: the group received %d of the %d source records", k, f.read[k], len(f.source[k]))
		}
	}
}

func testGroupMigrate(t *testing.T, consumer clientKind) {
	f := newGroupFixture(t, consumer)
	// The application moves to the target and reads the rest.
	f.consume(t, true, 0)
	f.finish(t)
	f.checkPositions(t, committedOffsets(t, f.pair.Target, f.group), true)
}

// TestGroupMigratePythonConsumer: a confluent-kafka-python group reads part
// of a compacted, a transactional and a 12-partition topic on the source;
// after mirroring and groups migrate, the same program on the target reads
// the rest: together, every source record exactly once, in order.
func TestGroupMigratePythonConsumer(t *testing.T) { testGroupMigrate(t, pythonConsumer) }

// TestGroupMigrateKcatConsumer is TestGroupMigratePythonConsumer with
// `kcat -G`.
func TestGroupMigrateKcatConsumer(t *testing.T) { testGroupMigrate(t, kcatConsumer) }

// TestGroupRollbackPythonConsumer: after the migration, the application
// reads further on the target and stops; producers write natively to the
// target; groups rollback (after a dry run that writes nothing) moves the
// group back, reporting the native records, and the application resumes
// on the source exactly after the last copy it read.
func TestGroupRollbackPythonConsumer(t *testing.T) {
	f := newGroupFixture(t, pythonConsumer)
	f.consume(t, true, 120)
	onTarget := committedOffsets(t, f.pair.Target, f.group)
	f.checkPositions(t, onTarget, true)

	// Producers that switched write to the target, after the group's
	// position, in a partition the group has an offset for.
	var nativeTP tp
	for _, k := range slices.SortedFunc(maps.Keys(onTarget), compareTP) {
		if k.topic == topicWide {
			nativeTP = k
			break
		}
	}
	if nativeTP.topic == "" {
		t.Fatalf("the group has no offset on the target for %s: %v", topicWide, onTarget)
	}
	var natives []*kgo.Record
	for i := range 3 {
		natives = append(natives, &kgo.Record{Topic: nativeTP.topic, Partition: nativeTP.partition,
			Key: fmt.Appendf(nil, "native-%d", i), Value: fmt.Appendf(nil, "written on the target %d", i)})
	}
	f.pair.Target.Produce(t, natives...)
	native := map[tp]int64{nativeTP: 3}
	wantWarning := fmt.Sprintf("%s: 3 records after the group's position (offset %d) were written natively on the target: the source does not have them, so the group will not see them after the rollback",
		nativeTP, onTarget[nativeTP])

	want := f.expectRollback(t, onTarget, f.migrated, native)
	changed, kinds := 0, map[string]int{}
	for _, p := range want {
		if p.Changed {
			changed++
		}
		kinds[p.Kind]++
		t.Logf("rolling back %s", p)
	}
	// Target positions on a copy, on the commit marker between the two
	// mirrored transactions, and after the last copy.
	for _, k := range []string{"exact", "next-copied", "end"} {
		if kinds[k] == 0 {
			t.Errorf("no %s translation back among %v: the target phase stopped where the test does not exercise that case", k, kinds)
		}
	}
	for _, dry := range []bool{true, false} {
		args := groupArgs(f.pair, "rollback", "--group", f.group)
		what := "groups rollback"
		if dry {
			args, what = append(args, "--dry-run"), "groups rollback --dry-run"
		}
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", what, code, out, errOut)
		}
		g := parseReport(t, out).single(t, "target-to-source", dry, f.group)
		checkPartitions(t, what, g.Partitions, want)
		if g.Committed != changed || !slices.Equal(g.Warnings, []string{wantWarning}) || len(g.Unmirrored) > 0 {
			t.Errorf("%s: committed %d partitions, warnings %q, unmirrored %v; want %d, [%q], none", what, g.Committed, g.Warnings, g.Unmirrored, changed, wantWarning)
		}
		onSource := committedOffsets(t, f.pair.Source, f.group)
		wantSource := maps.Clone(f.migrated)
		if !dry {
			for _, p := range want {
				wantSource[tp{p.ToTopic, p.Partition}] = p.To
			}
		}
		if !maps.Equal(onSource, wantSource) {
			t.Fatalf("the group's source offsets after %s: %v, want %v", what, onSource, wantSource)
		}
	}

	// The application moves back to the source and reads the rest: each
	// partition resumes with the source record after the last copy it
	// read on the target, and it never sees the native records.
	f.consume(t, false, 0)
	f.finish(t)
	f.checkPositions(t, committedOffsets(t, f.pair.Source, f.group), false)
}

// TestGroupMigrateRefusals: groups migrate refuses a group that is active
// on the source (exit 1, the group's error printed, nothing written to the
// target), and a command line naming no group (exit 2, usage message).
func TestGroupMigrateRefusals(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	const group = "reports"
	seed(t, pair.Source, "orders", 3, 30)
	committed := map[string]map[int32]int64{"orders": {0: 4, 1: 7, 2: 10}}
	pair.Source.CommitOffsets(t, group, committed)
	if out, errOut, code := run(t, mirrorArgs(pair, "--until", "end")...); code != 0 {
		t.Fatalf("mirror: exit %d\n%s%s", code, out, errOut)
	}

	// The application is still running on the source.
	assigned := make(chan struct{})
	cl := pair.Source.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case <-assigned:
			default:
				close(assigned)
			}
		}))
	ctx, cancel := context.WithCancel(t.Context())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	t.Cleanup(func() { cancel(); <-polled })
	select {
	case <-assigned:
	case <-time.After(30 * time.Second):
		t.Fatal("the source consumer was not assigned partitions within 30s")
	}

	wantErr := `group "reports" is Stable with 1 member on the source: group is active: stop the application on the source first (or pass --wait to wait for it)`
	out, errOut, code := run(t, groupArgs(pair, "migrate", "--group", group)...)
	if code != 1 {
		t.Fatalf("groups migrate of an active group: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	rep := parseReport(t, out)
	if rep.OK || len(rep.Groups) != 1 || rep.Groups[0].Error != wantErr || len(rep.Groups[0].Partitions) != 0 || rep.Groups[0].Committed != 0 {
		t.Errorf("groups migrate of an active group: report %s\nwant ok false, one group with error %q and no partitions", out, wantErr)
	}
	out, errOut, code = run(t, slices.DeleteFunc(groupArgs(pair, "migrate", "--group", group), func(s string) bool { return s == "--output" || s == "json" })...)
	if code != 1 || !strings.Contains(out, "Group reports (exact): NOT MOVED\n  error: "+wantErr+"\n") {
		t.Errorf("groups migrate of an active group, text output: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and the error %q", code, out, errOut, wantErr)
	}
	if got := pair.Target.CommittedOffsets(t, group); len(got) != 0 {
		t.Errorf("the refused migration committed %v on the target, want nothing", got)
	}
	if got := pair.Source.CommittedOffsets(t, group); !maps.EqualFunc(got, committed, maps.Equal) {
		t.Errorf("the group's source offsets are %v, want %v unchanged", got, committed)
	}

	// Once the application has stopped, the same command migrates it:
	// the refusal was the group's activity.
	cancel()
	<-polled
	if err := cl.LeaveGroupContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, groupArgs(pair, "migrate", "--group", group)...); code != 0 {
		t.Fatalf("groups migrate after the application stopped: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// One copy per source record, then the mirror's commit marker:
	// offsets translate one to one, and 10 (caught up) to the end of the
	// copies.
	if got := pair.Target.CommittedOffsets(t, group); !maps.EqualFunc(got, committed, maps.Equal) {
		t.Errorf("the group's target offsets after the migration: %v, want %v", got, committed)
	}

	for _, cmd := range []string{"migrate", "rollback"} {
		out, errOut, code := run(t, "groups", cmd, "--source", strings.Join(pair.Source.Addrs, ","), "--target", strings.Join(pair.Target.Addrs, ","))
		want := "kmigrate: name the groups to move with --group G (repeatable), or pass --all for every selected group\n"
		if code != 2 || out != "" || errOut != want {
			t.Errorf("groups %s without --group or --all: exit %d, stdout %q, stderr %q; want 2, nothing, %q", cmd, code, out, errOut, want)
		}
	}
}
