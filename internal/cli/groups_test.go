package cli_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestGroupsList mirrors orders to old.orders with `kmigrate mirror`, then
// checks what `kmigrate groups list` prints for a stopped group with
// offsets on it, in JSON (every field) and as a table, and that it wrote
// nothing.
func TestGroupsList(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	noRetention := map[string]string{"retention.ms": "-1"}
	pair.Source.CreateTopic(t, "orders", 1, noRetention)
	pair.Source.CreateTopic(t, "logs", 1, noRetention)
	produce := func(topic string, from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, "%s-%d", topic, i)})
		}
		pair.Source.Produce(t, rs...)
	}
	produce("orders", 0, 10)
	produce("logs", 0, 3)
	if code, _, stderr := kmigrate(t, "mirror", "--source", src, "--target", tgt, "--topics", "orders",
		"--topic-prefix", "old.", "--until", "end", "--progress", "never", "--log-level", "warn"); code != 0 {
		t.Fatalf("mirror: exit %d\n%s", code, stderr)
	}
	produce("orders", 10, 15)
	pair.Source.CommitOffsets(t, "billing", map[string]map[int32]int64{"orders": {0: 4}, "logs": {0: 1}})
	pair.Source.CommitOffsets(t, "audit", map[string]map[int32]int64{"logs": {0: 3}})

	// The copy of orders/0 offset 4 on the target.
	copy4 := int64(-1)
	for _, r := range pair.Target.ConsumeAll(t, "old.orders") {
		if o, ok, err := trace.Find(r.Headers); err == nil && ok && o.Offset == 4 {
			copy4 = r.Offset
		}
	}
	if copy4 < 0 {
		t.Fatal("no copy of orders/0 offset 4 on the target")
	}
	topicsBefore, err := pair.Target.Admin(t).ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := kmigrate(t, "groups", "list", "--source", src, "--target", tgt, "--groups", "billing", "--output", "json")
	if code != 0 {
		t.Fatalf("groups list: exit %d\n%s", code, stderr)
	}
	var got any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	wantJSON := fmt.Sprintf(`{
  "migration": %q,
  "has_state": true,
  "groups": [{
    "group": "billing",
    "source": {"state": "Empty", "members": 0},
    "target": {"state": "Dead", "members": 0},
    "topics": [
      {"topic": "logs", "mirrored": false, "lag": 2,
       "partitions": [{"partition": 0, "committed": 1, "end": 3, "lag": 2}]},
      {"topic": "orders", "mirrored": true, "target": "old.orders", "lag": 11,
       "partitions": [{"partition": 0, "committed": 4, "end": 15, "lag": 11,
                       "translation": {"kind": "exact", "offset": %d}}]}
    ],
    "lag": 13,
    "migratable": true
  }]
}`, migration.DefaultName(pair.Source.ID, pair.Target.ID), copy4)
	var want any
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("groups list --output json:\n%s\nwant:\n%s", stdout, wantJSON)
	}

	// The table: one row per selected group, sorted, with its verdict.
	code, stdout, stderr = kmigrate(t, "groups", "list", "--source", src, "--target", tgt)
	if code != 0 {
		t.Fatalf("groups list: exit %d\n%s", code, stderr)
	}
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n")[2:] {
		rows = append(rows, strings.Fields(l))
	}
	wantRows := [][]string{
		strings.Fields("GROUP SOURCE TARGET TOPICS LAG MIGRATABLE REASONS"),
		strings.Fields("audit Empty/0 Dead/0 logs (not mirrored) 0 no no committed topic is mirrored by migration " + migration.DefaultName(pair.Source.ID, pair.Target.ID)),
		strings.Fields("billing Empty/0 Dead/0 logs (not mirrored),orders->old.orders 13 yes -"),
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("groups list table:\n%s\nwant rows %q", stdout, wantRows)
	}

	// It wrote nothing: no topic appeared on the target (the source has
	// only the test's).
	topicsAfter, err := pair.Target.Admin(t).ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(topicsAfter.Names(), topicsBefore.Names()) {
		t.Errorf("target topics %v after groups list, %v before", topicsAfter.Names(), topicsBefore.Names())
	}

	if code, _, stderr := kmigrate(t, "groups", "list", "--source", src, "--target", tgt, "--output", "yaml"); code != 2 || !strings.Contains(stderr, `--output "yaml": use text or json`) {
		t.Errorf("--output yaml: exit %d, stderr %q", code, stderr)
	}

	// Migrate billing to the renamed topic: the table names both topics,
	// the record the offset points at, and the unmirrored offset.
	code, stdout, stderr = kmigrate(t, "groups", "migrate", "--source", src, "--target", tgt, "--group", "billing", "--log-level", "warn")
	if code != 0 {
		t.Fatalf("groups migrate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	wantLines := []string{
		"Migrating consumer groups of migration " + migration.DefaultName(pair.Source.ID, pair.Target.ID),
		"",
		"Group billing (exact): committed 1 partitions",
		"TOPIC PARTITION SOURCE OFFSET TARGET TOPIC TARGET OFFSET KIND WAS RECORD",
		fmt.Sprintf("orders 0 4 old.orders %d exact - offset %d (copy of source offset 4) at", copy4, copy4),
		"not mirrored, left alone: logs/0 at offset 1",
	}
	if len(lines) != len(wantLines) {
		t.Fatalf("groups migrate printed\n%s\nwant %d lines", stdout, len(wantLines))
	}
	for i, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if i == 4 { // ends with the record's timestamp
			l = l[:strings.LastIndex(l, " ")]
		}
		if l != wantLines[i] {
			t.Errorf("line %d: %q, want %q", i, l, wantLines[i])
		}
	}
	if got := pair.Target.CommittedOffsets(t, "billing"); fmt.Sprint(got) != fmt.Sprint(map[string]map[int32]int64{"old.orders": {0: copy4}}) {
		t.Errorf("target offsets %v", got)
	}

	// --all: billing is in place, audit has nothing on a mirrored topic
	// (reported, not a failure); naming audit alone is a failure.
	code, stdout, stderr = kmigrate(t, "groups", "migrate", "--source", src, "--target", tgt, "--all", "--output", "json", "--log-level", "warn")
	var rep struct {
		OK     bool `json:"ok"`
		Groups []struct {
			Group         string `json:"group"`
			Committed     int    `json:"committed"`
			NothingToMove bool   `json:"nothing_to_move"`
			Error         string `json:"error"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || !rep.OK || len(rep.Groups) != 2 ||
		rep.Groups[0].Group != "audit" || !rep.Groups[0].NothingToMove ||
		rep.Groups[0].Error != `none of the topics group "audit" committed offsets for is mirrored by migration `+migration.DefaultName(pair.Source.ID, pair.Target.ID)+": no committed offsets" ||
		rep.Groups[1].Group != "billing" || rep.Groups[1].Committed != 0 || rep.Groups[1].Error != "" {
		t.Errorf("groups migrate --all: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	if code, _, _ := kmigrate(t, "groups", "migrate", "--source", src, "--target", tgt, "--group", "audit", "--log-level", "warn"); code != 1 {
		t.Errorf("groups migrate --group audit: exit %d, want 1", code)
	}
}

func TestGroupsMigrateUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"groups", "migrate", "--source", "a:1", "--target", "b:1"}, "name the groups to move with --group G (repeatable), or pass --all for every selected group"},
		{[]string{"groups", "migrate", "--source", "a:1", "--target", "b:1", "--group", "g", "--all"}, "--group and --all are mutually exclusive"},
		{[]string{"groups", "migrate", "--source", "a:1", "--target", "b:1", "--group", " "}, "--group: a group name must not be empty"},
		{[]string{"groups", "migrate", "--source", "a:1", "--target", "b:1", "--group", "g", "--wait", "-1s"}, "--wait must not be negative"},
		{[]string{"groups", "migrate", "--source", "a:1", "--target", "b:1", "--group", "g", "--to-timestamp", "yesterday"}, `--to-timestamp: "yesterday" is not an RFC 3339 time (2026-11-21T09:00:00Z) or Unix milliseconds`},
		{[]string{"groups", "migrate", "--source", "a:1", "--target", "b:1", "--group", "g", "--mirror-wait", "-5s"}, "--mirror-wait must not be negative"},
		{[]string{"groups", "rollback", "--source", "a:1", "--target", "b:1", "--all", "--output", "xml"}, `--output "xml": use text or json`},
	} {
		code, _, stderr := kmigrate(t, tc.args...)
		if code != 2 || strings.TrimSpace(stderr) != "kmigrate: "+tc.want {
			t.Errorf("%q: exit %d, stderr %q; want 2, %q", tc.args, code, stderr, tc.want)
		}
	}
}
