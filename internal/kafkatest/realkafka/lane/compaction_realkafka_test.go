package lane_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestCompactedTopic: a compacted topic on the 3.9 source whose cleaner
// has really run (small segments, a low dirty ratio), so that its
// partitions have offset gaps, as kfake's never do. A group committed an
// offset the cleaner since removed. The mirror must copy exactly the
// surviving records, groups migrate must place the group at the copy of
// the next surviving record, the group must read exactly the rest on the
// target, and verify must pass.
func TestCompactedTopic(t *testing.T) {
	p := pair(t, source39, target4)
	topic := kafkatest.TopicName(t, "compacted")
	group := kafkatest.TopicName(t, "compactgroup")
	p.Source.CreateTopic(t, topic, 2, map[string]string{
		"cleanup.policy":            "compact",
		"segment.bytes":             "1024",
		"min.cleanable.dirty.ratio": "0.01",
		"min.compaction.lag.ms":     "0",
	})
	// 10 rounds of the same 10 keys per partition, one batch per round
	// and partition, then 3 batches of unique filler keys so that every
	// duplicate leaves the active segment (which the cleaner never
	// cleans).
	const keys, rounds, fillers = 10, 10, 3
	for r := range rounds {
		var recs []*kgo.Record
		for part := range int32(2) {
			for k := range keys {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Key: fmt.Appendf(nil, "p%d-k%d", part, k), Value: fmt.Appendf(nil, "round %d", r)})
			}
		}
		p.Source.Produce(t, recs...)
	}
	for f := range fillers {
		var recs []*kgo.Record
		for part := range int32(2) {
			for i := range 4 {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Key: fmt.Appendf(nil, "p%d-f%d-%d", part, f, i), Value: []byte(strings.Repeat("x", 200))})
			}
		}
		p.Source.Produce(t, recs...)
	}
	const survivors = 2 * (keys + fillers*4)
	src := waitCompacted(t, p.Source, topic, survivors)
	for _, r := range src {
		if strings.Contains(string(r.Key), "-k") && string(r.Value) != fmt.Sprintf("round %d", rounds-1) {
			t.Fatalf("after compaction %s = %q, want the last round's value", r.Key, r.Value)
		}
	}
	t.Logf("compacted: %d of %d records survive; partition 0 starts at offset %d", len(src), 2*(keys*rounds+fillers*4), src[0].Offset)

	// The group stopped at offset 5 of partition 0 (since removed) and at
	// offset 95 of partition 1 (a survivor).
	commits := map[int32]int64{0: 5, 1: 95}
	p.Source.CommitOffsets(t, group, map[string]map[int32]int64{topic: commits})
	rest := map[string]bool{}
	for _, r := range src {
		if r.Offset >= commits[r.Partition] {
			rest[string(r.Key)] = true
		}
	}

	// Kafka 4 refuses segments under 1 MiB (3.9 accepts 1024): the mirror
	// refuses, naming the config and the fix, and writes nothing.
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\ngroups:\n  include: [%s]\n", topic, group))
	out, errOut, code := run(t, m.args("mirror", "--until", "end")...)
	if want := fmt.Sprintf("kmigrate: migration blocked; nothing was written:\n  - topic %q -> %q: the target would refuse to create the topic: INVALID_CONFIG: "+
		"Configuration is invalid. (Invalid value 1024 for configuration segment.bytes: Value must be at least 1048576); "+
		"if the target refuses a copied config, exclude it with topics.configs.exclude\n", topic, topic); code != 1 || out != "" || errOut != want {
		t.Errorf("mirror with segment.bytes=1024 for a Kafka 4 target: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and stderr\n%s", code, out, errOut, want)
	}
	if topics, err := p.Target.Admin(t).ListTopics(t.Context()); err != nil || topics.Has(topic) {
		t.Fatalf("the refused mirror created the target topic (%v)", err)
	}
	m = newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\n  configs:\n    exclude: [segment.bytes]\ngroups:\n  include: [%s]\n", topic, group))
	mustRun(t, m.args("mirror", "--until", "end")...)
	deleteAtCleanup(t, p.Target, topic)
	sameRecords(t, src, consumeSettled(t, p.Target, topic))
	if out := mustRun(t, m.args("verify")...); !regexp.MustCompile(`\bOK\b`).MatchString(out) {
		t.Errorf("verify output:\n%s", out)
	}
	// Offsets 5 up to the first survivor were removed by the cleaner, not
	// missed: the mirror began at the log start (0) and read past them,
	// so groups migrate must not warn that records expired.
	gm := mustRun(t, m.args("groups", "migrate", "--group", group)...)
	t.Logf("groups migrate:\n%s", gm)
	if strings.Contains(gm, "expired") {
		t.Errorf("groups migrate reports records as expired on a compacted topic whose log start is 0:\n%s", gm)
	}
	translateCompacted(t, m, src, p.Target.ConsumeAll(t, topic), topic)
	got := consumeGroup(t, p.Target, group, topic, len(rest))
	for _, r := range got {
		if !rest[string(r.Key)] {
			t.Errorf("the group read %s at target %d@%d, which it had read on the source or read twice", r.Key, r.Partition, r.Offset)
		}
		delete(rest, string(r.Key))
	}
	if len(rest) > 0 {
		t.Errorf("the group never read %d records on the target: %v", len(rest), rest)
	}
}

// waitCompacted polls topic until the log cleaner has left exactly want
// records (read_committed, start to end), and returns them; the cleaner
// runs on its own schedule (log.cleaner.backoff.ms, 15 s by default).
func waitCompacted(t *testing.T, c *kafkatest.Cluster, topic string, want int) []*kgo.Record {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // hang guard
	for {
		recs := c.ConsumeAll(t, topic)
		if len(recs) == want {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still holds %d records after 3 minutes, want %d once compacted", topic, len(recs), want)
		}
		time.Sleep(time.Second)
	}
}

// translateCompacted asks kmigrate offsets translate, as a Flink or Spark
// user would, for every offset of partition 0 from 0 to past its end: a
// survivor translates to its copy (exact), an offset the cleaner removed
// to the copy of the next survivor (next-copied, including before the
// first survivor: the mirror began at the log start, 0), and past the last
// survivor to the target's end.
func translateCompacted(t *testing.T, m *migration, src, tgt []*kgo.Record, topic string) {
	t.Helper()
	var p0 []*kgo.Record
	for _, r := range src {
		if r.Partition == 0 {
			p0 = append(p0, r)
		}
	}
	copyOf := map[int64]int64{}
	lastCopy := int64(-1)
	for _, r := range tgt {
		if o, ok, err := trace.Find(r.Headers); err != nil || !ok {
			t.Fatalf("target %d@%d: no tracing header (%v)", r.Partition, r.Offset, err)
		} else if r.Partition == 0 {
			copyOf[o.Offset] = r.Offset
			lastCopy = r.Offset
		}
	}
	last := p0[len(p0)-1].Offset
	var lines strings.Builder
	for c := int64(0); c <= last+1; c++ {
		fmt.Fprintf(&lines, "%s 0 %d\n", topic, c)
	}
	in := filepath.Join(t.TempDir(), "positions.txt")
	if err := os.WriteFile(in, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, m.args("offsets", "translate", in, "--output", "json")...)
	var rep struct {
		Answers []struct {
			From struct{ Offset int64 }
			To   int64
			Kind string
		}
		Errors []string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Answers) != int(last)+2 || len(rep.Errors) != 0 {
		t.Fatalf("offsets translate: %v, %d answers, errors %q\n%s", err, len(rep.Answers), rep.Errors, out)
	}
	for _, a := range rep.Answers {
		c := a.From.Offset
		j, found := slices.BinarySearchFunc(p0, c, func(r *kgo.Record, o int64) int { return int(r.Offset - o) })
		var to int64
		kind := "next-copied"
		switch {
		case found:
			to, kind = copyOf[c], "exact"
		case j == len(p0):
			to, kind = lastCopy+1, "end"
		default:
			to = copyOf[p0[j].Offset]
		}
		if a.To != to || a.Kind != kind {
			t.Errorf("offset %d: translated to %d (%s), want %d (%s)", c, a.To, a.Kind, to, kind)
		}
	}
}
