package lane_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestLifecycle walks a whole migration from Kafka 3.9 (ZooKeeper) to
// Kafka 4.x (KRaft) with the binary: mirror; status with a known lag, in
// text and JSON; promote refused on that lag, writing nothing; the mirror
// again; the consumer group moved (groups migrate); promote; producers
// writing natively on the target; verify; the group reading the rest on
// the target (every record exactly once); then the way back: mirroring in
// reverse copies exactly the native records into the old topic, never a
// record that came from it, and a second reverse run copies nothing.
func TestLifecycle(t *testing.T) {
	p := pair(t, source39, target4)
	topic := kafkatest.TopicName(t, "life")
	group := kafkatest.TopicName(t, "lifegroup")
	p.Source.CreateTopic(t, topic, 2, map[string]string{"retention.ms": "-1"})
	keys := []string{}
	produce := func(c *kafkatest.Cluster, prefix string, perPartition ...int) []*kgo.Record {
		var recs []*kgo.Record
		for part, n := range perPartition {
			for range n {
				k := fmt.Sprintf("%s-%d", prefix, len(keys))
				keys = append(keys, k)
				recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(part), Key: []byte(k), Value: []byte("value of " + k)})
			}
		}
		c.Produce(t, recs...)
		return recs
	}
	produce(p.Source, "src", 10, 10)
	seen := map[string]int{}
	for _, r := range consumeGroup(t, p.Source, group, topic, 7) {
		seen[string(r.Key)]++
	}
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\ngroups:\n  include: [%s]\n", topic, group))
	mustRun(t, m.args("mirror", "--until", "end")...)
	deleteAtCleanup(t, p.Target, topic)

	// 3 + 2 records the mirror has not copied: status reports that lag.
	late := produce(p.Source, "late", 3, 2)
	checkStatusLag(t, m, topic, late)
	out, errOut, code := run(t, m.args("promote", "--quiet-period", "1s", "--sample", "0")...)
	if code != 1 || out != "" || !strings.Contains(errOut, "kmigrate: promotion preconditions are not met; nothing was promoted:\n") ||
		!strings.Contains(errOut, fmt.Sprintf("- topic %q: replication lag is 5 records (", topic)) {
		t.Errorf("promote while the mirror lags 5 records: exit %d, want 1 naming the lag\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if s := lifecycleStatus(t, m); s.Phase != "sync" || len(s.History) != 0 {
		t.Errorf("after the refused promotion: phase %q, history %+v; want sync and nothing recorded", s.Phase, s.History)
	}

	// The mirror copies the rest, the group moves, promote succeeds once
	// the source has been quiet for the quiet period.
	mustRun(t, m.args("mirror", "--until", "end")...)
	t.Logf("groups migrate:\n%s", mustRun(t, m.args("groups", "migrate", "--group", group)...))
	quiet := late[len(late)-1].Timestamp.Add(2 * time.Second)
	for time.Now().Before(quiet) {
		time.Sleep(100 * time.Millisecond) // the quiet period is a duration by definition
	}
	out = mustRun(t, m.args("promote", "--quiet-period", "1s", "--sample", "0")...)
	if want := fmt.Sprintf("Promoted: %s\nPhase: done\n", topic); out != want {
		t.Errorf("promote: stdout\n%s\nwant\n%s", out, want)
	}

	// Producers write natively on the target; verify proves the copy; the
	// group reads everything else there.
	natives := produce(p.Target, "native", 2, 3)
	if out := mustRun(t, m.args("verify")...); !regexp.MustCompile(`\bOK\b`).MatchString(out) {
		t.Errorf("verify output:\n%s", out)
	}
	for _, r := range consumeGroup(t, p.Target, group, topic, len(keys)-7) {
		seen[string(r.Key)]++
	}
	for _, k := range keys {
		if seen[k] != 1 {
			t.Errorf("%s read %d times, want once", k, seen[k])
		}
	}

	// The way back: mirroring target -> source copies the natives only,
	// also when another migration moved other topics between the same
	// clusters (in waves): the reverse mirror finds each one's state.
	wave := kafkatest.TopicName(t, "wave")
	p.Source.CreateTopic(t, wave, 1, nil)
	p.Source.Produce(t, &kgo.Record{Topic: wave, Value: []byte("wave 2")})
	mustRun(t, newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\n", wave)).args("mirror", "--until", "end")...)
	deleteAtCleanup(t, p.Target, wave)
	before := consumeSettled(t, p.Source, topic)
	back := newMigration(t, &kafkatest.Pair{Source: p.Target, Target: p.Source}, fmt.Sprintf("topics:\n  include: [%s]\n", topic))
	for run := 1; run <= 2; run++ {
		mustRun(t, back.args("mirror", "--until", "end")...)
		checkReverse(t, run, before, natives, consumeSettled(t, p.Source, topic))
	}
}

// checkReverse: the old cluster's topic holds what it held before the
// reverse mirror, then each native record exactly once, in order, each
// with a tracing header naming its target partition and offset.
func checkReverse(t *testing.T, run int, before, natives, after []*kgo.Record) {
	t.Helper()
	var old, copies []*kgo.Record
	for _, r := range after {
		if _, ok, _ := trace.Find(r.Headers); ok {
			copies = append(copies, r)
		} else {
			old = append(old, r)
		}
	}
	if len(old) != len(before) || len(copies) != len(natives) {
		t.Fatalf("reverse run %d: the old topic holds %d records, %d of them copies; want the %d it held and the %d natives",
			run, len(after), len(copies), len(before), len(natives))
	}
	for i := range old {
		if old[i].Partition != before[i].Partition || old[i].Offset != before[i].Offset || string(old[i].Key) != string(before[i].Key) {
			t.Errorf("reverse run %d: old record %d changed: %s/%d@%d != %s/%d@%d", run, i,
				old[i].Key, old[i].Partition, old[i].Offset, before[i].Key, before[i].Partition, before[i].Offset)
		}
	}
	sameRecords(t, natives, copies)
}

// statusReport is the part of `kmigrate status --output json` the lane
// reads.
type statusReport struct {
	Time   time.Time `json:"time"`
	Phase  string    `json:"phase"`
	Topics []struct {
		Source     string  `json:"source"`
		State      string  `json:"state"`
		Lag        int64   `json:"lag"`
		LagSeconds float64 `json:"lag_seconds"`
		Partitions []struct {
			Partition  int32   `json:"partition"`
			SourceEnd  int64   `json:"source_end"`
			Next       int64   `json:"next"`
			Lag        int64   `json:"lag"`
			LagSeconds float64 `json:"lag_seconds"`
		} `json:"partitions"`
	} `json:"topics"`
	History []struct {
		Action string `json:"action"`
	} `json:"history"`
}

func lifecycleStatus(t *testing.T, m *migration) statusReport {
	t.Helper()
	out := mustRun(t, m.args("status", "--output", "json", "--sample", "0")...)
	var s statusReport
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status --output json: %v\n%s", err, out)
	}
	return s
}

// checkStatusLag: with 10 records copied per partition and late (3 in
// partition 0, 2 in partition 1) not, status reports a lag of 5 records,
// per partition next 10 of 13 and 10 of 12, and a lag in time no less than
// the age of each partition's first uncopied record when status began and
// no more than its age when status ended; the text says the same.
func checkStatusLag(t *testing.T, m *migration, topic string, late []*kgo.Record) {
	t.Helper()
	first := map[int32]time.Time{}
	for _, r := range late {
		if _, ok := first[r.Partition]; !ok {
			first[r.Partition] = time.UnixMilli(r.Timestamp.UnixMilli()) // as the broker keeps it
		}
	}
	s := lifecycleStatus(t, m)
	ended := time.Now()
	if len(s.Topics) != 1 || s.Topics[0].Source != topic || s.Topics[0].State != "mirroring" || s.Topics[0].Lag != 5 || len(s.Topics[0].Partitions) != 2 {
		t.Fatalf("status --output json: %+v; want %s mirroring with a lag of 5 records in 2 partitions", s, topic)
	}
	ends := []int64{13, 12}
	for i, pt := range s.Topics[0].Partitions {
		lo, hi := s.Time.Sub(first[pt.Partition]).Seconds(), ended.Sub(first[pt.Partition]).Seconds()
		if pt.Partition != int32(i) || pt.SourceEnd != ends[i] || pt.Next != 10 || pt.Lag != ends[i]-10 || pt.LagSeconds < lo || pt.LagSeconds > hi {
			t.Errorf("status partition %d: %+v; want next 10 of %d, lag %d, lag seconds in [%.3f, %.3f]", i, pt, ends[i], ends[i]-10, lo, hi)
		}
	}
	out := mustRun(t, m.args("status", "--sample", "0")...)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(topic) + `\s+` + regexp.QuoteMeta(topic) + `\s+mirroring\s+5\s+\d+\.\ds\s`),
		regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(topic) + `/0: next 10 of 13, lag 3 \(\d+\.\ds\)$`),
		regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(topic) + `/1: next 10 of 12, lag 2 \(\d+\.\ds\)$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("status text does not match %s:\n%s", want, out)
		}
	}
}
