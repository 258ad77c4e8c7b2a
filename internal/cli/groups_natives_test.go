package cli_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestGroupsMigrateUnreachableNatives: records written natively on the
// target between two mirror runs lie before copies the group consumed on
// the source. groups migrate refuses (exit 1, with what to do), its dry run
// with --unreachable-natives=reread reports the position and the counts in
// JSON, and skip commits the exact position, naming what it skipped.
func TestGroupsMigrateUnreachableNatives(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	produce := func(c *kafkatest.Cluster, prefix string, from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Topic: "orders", Partition: 0, Value: fmt.Appendf(nil, "%s-%d", prefix, i)})
		}
		c.Produce(t, rs...)
	}
	mirror := func() {
		t.Helper()
		if code, _, stderr := kmigrate(t, "mirror", "--source", src, "--target", tgt, "--until", "end", "--progress", "never", "--log-level", "warn"); code != 0 {
			t.Fatalf("mirror: exit %d\n%s", code, stderr)
		}
	}
	produce(pair.Source, "old", 0, 5)
	mirror()
	ends, err := pair.Target.Admin(t).ListEndOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := ends.Lookup("orders", 0)
	at := e.Offset
	produce(pair.Target, "new", 0, 2)
	produce(pair.Source, "old", 5, 10)
	mirror()
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 10}})
	args := []string{"groups", "migrate", "--source", src, "--target", tgt, "--group", "app", "--log-level", "warn"}

	code, stdout, _ := kmigrate(t, args...)
	wantErr := fmt.Sprintf(`error: group "app": 2 records written natively on the target lie before copies the group already consumed, and its new position would never deliver them (orders/0: 2 at offsets %d-%d): native target records the group would never read; pass --unreachable-natives=reread`, at, at+1)
	if code != 1 || !strings.Contains(stdout, "Group app (exact): NOT MOVED") || !strings.Contains(stdout, wantErr) {
		t.Errorf("refused: exit %d\n%s\nwant %q", code, stdout, wantErr)
	}
	if got := pair.Target.CommittedOffsets(t, "app"); len(got) != 0 {
		t.Errorf("refused, yet committed %v", got)
	}

	code, stdout, stderr := kmigrate(t, append(args, "--dry-run", "--output", "json", "--unreachable-natives", "reread")...)
	var rep struct {
		OK     bool `json:"ok"`
		Groups []struct {
			Partitions []struct {
				To          int64 `json:"to"`
				Unreachable int64 `json:"unreachable_natives"`
				Offsets     []struct {
					From int64 `json:"from"`
					To   int64 `json:"to"`
				} `json:"unreachable_native_offsets"`
				Reread int64 `json:"reread_copies"`
			} `json:"partitions"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || !rep.OK || len(rep.Groups) != 1 || len(rep.Groups[0].Partitions) != 1 {
		t.Fatalf("reread dry run: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	if p := rep.Groups[0].Partitions[0]; p.To != at || p.Unreachable != 2 || len(p.Offsets) != 1 || p.Offsets[0].From != at || p.Offsets[0].To != at+2 || p.Reread != 5 {
		t.Errorf("reread dry run: %+v", p)
	}

	code, stdout, stderr = kmigrate(t, append(args, "--unreachable-natives", "skip")...)
	wantWarn := fmt.Sprintf("warning: orders/0: 2 records written natively on the target (offsets %d-%d) lie before copies the group already consumed: skipped as chosen (--unreachable-natives=skip)", at, at+1)
	if code != 0 || !strings.Contains(stdout, "committed 1 partitions") || !strings.Contains(stdout, wantWarn) {
		t.Errorf("skip: exit %d\n%s\n%s\nwant %q", code, stdout, stderr, wantWarn)
	}

	code, _, stderr = kmigrate(t, append(args, "--unreachable-natives", "maybe")...)
	if want := `kmigrate: --unreachable-natives: "maybe" is not one of refuse, skip, reread`; code != 2 || strings.TrimSpace(stderr) != want {
		t.Errorf("--unreachable-natives maybe: exit %d, stderr %q; want 2, %q", code, stderr, want)
	}
}
