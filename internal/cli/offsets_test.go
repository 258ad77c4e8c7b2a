package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cli"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// kmigrateIn runs kmigrate with stdin.
func kmigrateIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var o, e bytes.Buffer
	code = cli.Main(ctx, args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

// offsets translate after a mirror to renamed topics: a Spark checkpoint
// rewritten for the target, the table with kinds, JSON, the way back, and
// the exit codes for a topic outside the migration and bad input.
func TestOffsetsTranslate(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1"})
	for i := range 20 {
		pair.Source.Produce(t, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if code, _, stderr := kmigrate(t, "mirror", "--source", src, "--target", tgt, "--topic-prefix", "old.", "--until", "end", "-q", "--log-level", "warn"); code != 0 {
		t.Fatalf("mirror: exit %d\n%s", code, stderr)
	}
	// One transaction per run: the copies of orders/p are old.orders/p
	// offsets 0-9, so every answer is the offset itself.
	args := []string{"offsets", "translate", "--source", src, "--target", tgt, "--log-level", "warn"}
	code, out, stderr := kmigrateIn(t, `{"orders":{"0":4,"1":10}}`, append(args, "--rewrite")...)
	if want := "{\"old.orders\":{\"0\":4,\"1\":10}}\n"; code != 0 || out != want {
		t.Errorf("rewrite: exit %d, %q (%s); want %q", code, out, stderr, want)
	}
	code, out, _ = kmigrateIn(t, "orders 0 4\norders 1 10\norders 1 12\n", args...)
	wantTable := `TOPIC   PARTITION  OFFSET  TO TOPIC    TO OFFSET  KIND              NOTE
orders  0          4       old.orders  4          exact             
orders  1          10      old.orders  10         end               
orders  1          12      old.orders  -          not-yet-mirrored  the mirror has not copied this far: translate again later
`
	if code != 0 || out != wantTable {
		t.Errorf("table: exit %d\n%s\nwant\n%s", code, out, wantTable)
	}
	code, out, _ = kmigrateIn(t, `[{"topic":"old.orders","partition":1,"offset":3}]`, append(args, "--reverse", "--output", "json")...)
	var rep struct {
		Format  string
		Answers []struct {
			ToTopic string `json:"to_topic"`
			To      int64
			Kind    string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Format != "list" || len(rep.Answers) != 1 ||
		rep.Answers[0].ToTopic != "orders" || rep.Answers[0].To != 3 || rep.Answers[0].Kind != "exact" {
		t.Errorf("reverse json: exit %d %v\n%s", code, err, out)
	}
	code, out, _ = kmigrateIn(t, "payments 0 1\n", args...)
	if code != 1 || !strings.Contains(out, "error: payments/0@1: topic is not part of the migration") {
		t.Errorf("unknown topic: exit %d\n%s", code, out)
	}
	if code, _, stderr := kmigrateIn(t, "orders zero 1\n", args...); code != 2 || !strings.Contains(stderr, `partition "zero" is not a partition number`) {
		t.Errorf("bad input: exit %d, %s", code, stderr)
	}
	if code, _, stderr := kmigrateIn(t, `{"orders":{"0":30}}`, append(args, "--rewrite")...); code != 1 || !strings.Contains(stderr, "has no position to resume at (not-yet-mirrored)") {
		t.Errorf("rewrite past the mirror: exit %d, %s", code, stderr)
	}
}
