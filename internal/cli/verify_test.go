package cli_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
)

func TestVerifyUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--source", "a:1", "--target", "b:1", "--sample", "-1"}, "--sample must be 0 (a full check) or a positive number of records per partition"},
		{[]string{"verify", "--source", "a:1", "--target", "b:1", "--parallel", "0"}, "--parallel must be at least 1"},
		{[]string{"verify", "--source", "a:1", "--target", "b:1", "--output", "xml"}, `--output "xml": use text or json`},
	} {
		code, _, stderr := kmigrate(t, tc.args...)
		if code != 2 || strings.TrimSpace(stderr) != "kmigrate: "+tc.want {
			t.Errorf("%q: exit %d, stderr %q; want 2, %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestVerifyTable mirrors a topic with `kmigrate mirror` (to a renamed
// target topic), migrates a group, and checks the table `kmigrate verify`
// prints for the clean copy (exit 0) and after the first two copies are
// deleted from the target (exit 1, the gaps listed by source and target
// offset).
func TestVerifyTable(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	var rs []*kgo.Record
	for i := range 10 {
		rs = append(rs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, "v%d", i)})
	}
	pair.Source.Produce(t, rs...)
	if code, _, stderr := kmigrate(t, "verify", "--source", src, "--target", tgt); code != 1 || !strings.Contains(stderr, "has no state on the target (__kmigrate-m-") {
		t.Errorf("verify before mirroring: exit %d, %s", code, stderr)
	}
	if code, _, stderr := kmigrate(t, "mirror", "--source", src, "--target", tgt, "--topic-prefix", "old.", "--until", "end", "--progress", "never", "--log-level", "warn"); code != 0 {
		t.Fatalf("mirror: exit %d\n%s", code, stderr)
	}
	pair.Source.CommitOffsets(t, "billing", map[string]map[int32]int64{"orders": {0: 4}})
	if code, _, stderr := kmigrate(t, "groups", "migrate", "--source", src, "--target", tgt, "--group", "billing", "--log-level", "warn"); code != 0 {
		t.Fatalf("groups migrate: exit %d\n%s", code, stderr)
	}
	name := migration.DefaultName(pair.Source.ID, pair.Target.ID)
	// Times, durations and digests vary.
	vary := regexp.MustCompile(`state read at \S+|\d+\.\d+s\.|match [0-9a-f]{12}`)
	normal := func(s string) string {
		return vary.ReplaceAllStringFunc(s, func(m string) string {
			switch {
			case strings.HasPrefix(m, "state"):
				return "state read at T"
			case strings.HasPrefix(m, "match"):
				return "match " + strings.Repeat("D", 12) // keeps the column width
			}
			return "S."
		})
	}

	code, stdout, stderr := kmigrate(t, "verify", "--source", src, "--target", tgt, "--log-level", "warn")
	want := `Verifying migration ` + name + `: full check, tracing headers on, exactly-once; state read at T

TOPIC   PARTITION  TARGET      SOURCE RANGE  RECORDS  COPIES  NATIVE  GAPS  DUPS  ORDER  MISMATCH  MAP  DIGEST              RESULT
orders  0          old.orders  0-9           10       10      0       0     0     0      0         0    match DDDDDDDDDDDD  ok

Groups:
  GROUP    TOPIC   PARTITION  SOURCE OFFSET  TRANSLATION  TARGET OFFSET  RESULT  DETAIL
  billing  orders  0          4              4            4              ok      -

ACLs, quotas and users: equal on both sides: ACL bindings 0 of 0 on the target, 0 to create, 0 extra, 0 conflicts; quotas 0 equal, 0 to set, 0 extra; users 0 of 0 on the target

OK: 10 of 10 source records verified in 1 partition, every copy matches; S.
`
	if code != 0 || normal(stdout) != want {
		t.Errorf("clean: exit %d, stderr %s\n got:\n%s\nwant:\n%s", code, stderr, normal(stdout), want)
	}

	var os kadm.Offsets
	os.AddOffset("old.orders", 0, 2, -1)
	if resp, err := pair.Target.Admin(t).DeleteRecords(t.Context(), os); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v, %v", err, resp.Error())
	}
	code, stdout, _ = kmigrate(t, "verify", "--source", src, "--target", tgt, "--log-level", "warn")
	want = `Verifying migration ` + name + `: full check, tracing headers on, exactly-once; state read at T

TOPIC   PARTITION  TARGET      SOURCE RANGE  RECORDS  COPIES  NATIVE  GAPS  DUPS  ORDER  MISMATCH  MAP  DIGEST   RESULT
orders  0          old.orders  0-9           10       8       0       2     0     0      0         0    DIFFERS  failed

Problems:
  orders/0: gap: source offset 0 has no copy on the target: the offset map puts it at target offset 0, below the target's log start 2 (deleted on the target)
  orders/0: gap: source offset 1 has no copy on the target: the offset map puts it at target offset 1, below the target's log start 2 (deleted on the target)

Groups:
  GROUP    TOPIC   PARTITION  SOURCE OFFSET  TRANSLATION  TARGET OFFSET  RESULT  DETAIL
  billing  orders  0          4              4            4              ok      -

ACLs, quotas and users: equal on both sides: ACL bindings 0 of 0 on the target, 0 to create, 0 extra, 0 conflicts; quotas 0 equal, 0 to set, 0 extra; users 0 of 0 on the target

FAILED: 2 problems in 1 partition.
`
	if code != 1 || normal(stdout) != want {
		t.Errorf("faulted: exit %d\n got:\n%s\nwant:\n%s", code, normal(stdout), want)
	}
}
