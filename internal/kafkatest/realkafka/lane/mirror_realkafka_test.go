package lane_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestCheck: kmigrate check reaches a 3.9 ZooKeeper source and a 4.x
// KRaft target and tells them apart.
func TestCheck(t *testing.T) {
	p := pair(t, source39, target4)
	out := mustRun(t, "check", "--source", strings.Join(p.Source.Addrs, ","), "--target", strings.Join(p.Target.Addrs, ","))
	t.Logf("check:\n%s", out)
	for _, want := range []string{
		"cluster id     " + p.Source.ID, "cluster id     " + p.Target.ID,
		"kafka version  v" + majorMinor(source39.Version()), "kafka version  v" + majorMinor(target4.Version()),
		"OK: both clusters are reachable and distinct.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
}

// majorMinor returns "3.9" for "3.9.1".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	return parts[0] + "." + parts[1]
}

// TestMirrorVariety copies records of every shape from Kafka 3.9
// (ZooKeeper) to Kafka 4.x (KRaft) with mirror --until end: the target
// must hold every committed source record, unchanged and in order, and no
// aborted one; verify must agree.
func TestMirrorVariety(t *testing.T) {
	p := pair(t, source39, target4)
	topic := kafkatest.TopicName(t, "variety")
	p.Source.CreateTopic(t, topic, 3, map[string]string{"retention.ms": "-1"})
	n := produceVariety(t, p.Source, topic, 3)
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\n", topic))
	mustRun(t, m.args("mirror", "--until", "end")...)
	deleteAtCleanup(t, p.Target, topic)
	src, tgt := consumeSettled(t, p.Source, topic), consumeSettled(t, p.Target, topic)
	if len(src) != n {
		t.Fatalf("source read_committed holds %d records, produced %d committed", len(src), n)
	}
	sameRecords(t, src, tgt)
	out := mustRun(t, m.args("verify")...)
	if !strings.Contains(out, "OK") {
		t.Errorf("verify output:\n%s", out)
	}
}

// TestGroupsMigrate: a franz-go consumer group reads part of a topic on
// the 3.9 source and stops; after mirror and groups migrate, the same
// group reads the rest on the 4.x target. Every source record is read
// exactly once, asserted by source position.
func TestGroupsMigrate(t *testing.T) {
	p := pair(t, source39, target4)
	topic := kafkatest.TopicName(t, "orders")
	group := kafkatest.TopicName(t, "group")
	p.Source.CreateTopic(t, topic, 3, map[string]string{"retention.ms": "-1"})
	const total, first = 300, 110
	var recs []*kgo.Record
	for i := range total {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: fmt.Appendf(nil, "order-%d", i), Value: fmt.Appendf(nil, "%d", i)})
	}
	p.Source.Produce(t, recs...)

	seen := map[string]int{} // key -> times read
	for _, r := range consumeGroup(t, p.Source, group, topic, first) {
		seen[string(r.Key)]++
	}
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\ngroups:\n  include: [%s]\n", topic, group))
	mustRun(t, m.args("mirror", "--until", "end")...)
	deleteAtCleanup(t, p.Target, topic)
	out := mustRun(t, m.args("groups", "migrate", "--group", group)...)
	t.Logf("groups migrate:\n%s", out)
	for _, r := range consumeGroup(t, p.Target, group, topic, total-first) {
		seen[string(r.Key)]++
	}
	for i := range total {
		if k := fmt.Sprintf("order-%d", i); seen[k] != 1 {
			t.Errorf("%s read %d times, want once", k, seen[k])
		}
	}
}

// consumeGroup reads exactly n records of topic as a member of group,
// commits them and leaves the group, as an application stopping would.
func consumeGroup(t *testing.T, c *kafkatest.Cluster, group, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := c.Client(t, append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted())}, opts...)...)
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollRecords(ctx, n-len(got))
		if ctx.Err() != nil {
			t.Fatalf("%s: group %s read %d of %d records: %v", c.Config.Role, group, len(got), n, ctx.Err())
		}
		if err := fs.Err(); err != nil {
			t.Fatalf("%s: group %s: %v", c.Config.Role, group, err)
		}
		got = append(got, fs.Records()...)
	}
	if err := cl.CommitRecords(ctx, got...); err != nil {
		t.Fatalf("%s: group %s: commit: %v", c.Config.Role, group, err)
	}
	cl.Close() // leaves the group
	return got
}

// TestMirrorKill9Resume kills `kmigrate mirror` with SIGKILL mid-copy,
// three times, between Kafka 4.x clusters (transactions v2 on both sides)
// and resumes it each time: the target must end equal to the source,
// record by record, with no duplicate.
func TestMirrorKill9Resume(t *testing.T) {
	p := pair(t, source4, target4)
	topic := kafkatest.TopicName(t, "crash")
	p.Source.CreateTopic(t, topic, 3, map[string]string{"retention.ms": "-1"})
	const records = 60000
	var recs []*kgo.Record
	for i := range records {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i), Value: make([]byte, 200+i%200)})
	}
	p.Source.Produce(t, recs...)
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\nmirror:\n  transaction_max_bytes: 1MiB\n  transaction_interval: 50ms\n", topic))
	args := m.args("mirror", "--until", "end")
	progress := kadm.NewClient(p.Target.Client(t, kgo.MetadataMinAge(50*time.Millisecond)))
	deleteAtCleanup(t, p.Target, topic)
	killMirror(t, args, progress, topic, 3)
	mustRun(t, args...)
	sameRecords(t, consumeSettled(t, p.Source, topic), consumeSettled(t, p.Target, topic))
	out := mustRun(t, m.args("verify")...)
	if !regexp.MustCompile(`\bOK\b`).MatchString(out) {
		t.Errorf("verify output:\n%s", out)
	}
}

// endOffset sums topic's end offsets, or -1 before the topic exists.
func endOffset(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		return -1
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

// deleteAtCleanup deletes a topic that kmigrate created on a shared
// cluster when the test ends.
func deleteAtCleanup(t *testing.T, c *kafkatest.Cluster, topic string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = c.Admin(t).DeleteTopic(ctx, topic)
	})
}
