package lane_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestTopicConfigs39To4: every portable topic config set on a 3.9 source
// topic arrives on the 4.x target; configs Kafka 4 removed are not copied
// (the mirror would fail to create the topic) and plan gives the reason.
func TestTopicConfigs39To4(t *testing.T) {
	p := pair(t, source39, target4)
	topic := kafkatest.TopicName(t, "configs")
	portable := map[string]string{
		"cleanup.policy":            "compact,delete",
		"compression.type":          "zstd",
		"max.message.bytes":         "2000000",
		"min.insync.replicas":       "1",
		"retention.ms":              "-1",
		"segment.bytes":             "1048576",
		"min.cleanable.dirty.ratio": "0.2",
		"delete.retention.ms":       "3600000",
	}
	removed := map[string]string{
		"message.format.version":        "2.8",
		"message.downconversion.enable": "false",
	}
	all := map[string]string{}
	for k, v := range portable {
		all[k] = v
	}
	for k, v := range removed {
		all[k] = v
	}
	p.Source.CreateTopic(t, topic, 2, all)
	p.Source.Produce(t, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v")})
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\n", topic))
	plan := mustRun(t, m.args("plan")...)
	for k := range removed {
		if !strings.Contains(plan, k) {
			t.Errorf("plan does not mention the dropped config %s:\n%s", k, plan)
		}
	}
	mustRun(t, m.args("mirror", "--until", "end")...)
	deleteAtCleanup(t, p.Target, topic)
	got := topicConfigs(t, p.Target, topic)
	for k, v := range portable {
		if got[k] != v {
			t.Errorf("target %s = %q, want %q (the source's)", k, got[k], v)
		}
	}
	for k := range removed {
		if v, ok := got[k]; ok {
			t.Errorf("target has %s = %q; Kafka 4 removed it", k, v)
		}
	}
}

// topicConfigs returns a topic's configs that are set on the topic itself.
func topicConfigs(t *testing.T, c *kafkatest.Cluster, topic string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rcs, err := c.Admin(t).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, cfg := range rc.Configs {
		if cfg.Source.String() == "DYNAMIC_TOPIC_CONFIG" {
			out[cfg.Key] = cfg.MaybeValue()
		}
	}
	return out
}

// TestLogAppendTimeSource mirrors a 3.9 topic with
// message.timestamp.type=LogAppendTime, whose records carry the broker's
// append time (kfake ignores the setting). The copy must keep the
// source's timestamps, or verify must explain the difference; a copied
// LogAppendTime on the target restamps every record.
//
// The target topic gets LogAppendTime and restamps every copy; verify
// compares the source timestamp each copy's tracing header keeps (it
// reported every record as a timestamp mismatch before).
func TestLogAppendTimeSource(t *testing.T) {
	p := pair(t, source39, target4)
	topic := kafkatest.TopicName(t, "appendtime")
	p.Source.CreateTopic(t, topic, 1, map[string]string{"message.timestamp.type": "LogAppendTime", "retention.ms": "-1"})
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Timestamp: time.UnixMilli(1_600_000_000_000)})
	}
	p.Source.Produce(t, recs...)
	src := consumeSettled(t, p.Source, topic)
	if src[0].Timestamp.Year() == 2020 || src[0].Attrs.TimestampType() != 1 {
		t.Fatalf("the source kept the producer's timestamp %v (type %d): LogAppendTime not applied", src[0].Timestamp, src[0].Attrs.TimestampType())
	}
	time.Sleep(50 * time.Millisecond) // so that a restamped copy would differ
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\n", topic))
	out := mustRun(t, m.args("mirror", "--until", "end")...)
	t.Logf("mirror:\n%s", out)
	deleteAtCleanup(t, p.Target, topic)
	tgt := consumeSettled(t, p.Target, topic)
	t.Logf("target topic message.timestamp.type=%q", topicConfigs(t, p.Target, topic)["message.timestamp.type"])
	restamped := 0
	for i := range min(len(src), len(tgt)) {
		if !src[i].Timestamp.Equal(tgt[i].Timestamp) {
			restamped++
		}
	}
	vout, verr, code := run(t, m.args("verify")...)
	t.Logf("verify (exit %d), %d of %d copies restamped:\n%s%s", code, restamped, len(tgt), vout, verr)
	if len(tgt) != len(src) {
		t.Fatalf("target has %d records, source %d", len(tgt), len(src))
	}
	if code != 0 {
		t.Errorf("verify exit %d on a complete copy of a LogAppendTime topic", code)
	}
}
