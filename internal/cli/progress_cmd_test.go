package cli_test

import (
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cli"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// verify and plan, with stderr not a terminal, log their progress (here
// the closing line, since they finish within the first interval) and draw
// no bar; --quiet silences it; --progress always draws the bar and logs no
// progress line: never both.
func TestVerifyAndPlanProgress(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	pair.Source.CreateTopic(t, "orders", 3, map[string]string{"retention.ms": "-1"})
	for p := range int32(3) {
		pair.Source.Produce(t, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("a")}, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("b")})
	}
	pair.Source.CommitOffsets(t, "app", map[string]map[int32]int64{"orders": {0: 1}})
	if code, _, stderr := kmigrate(t, "mirror", "--source", src, "--target", tgt, "--until", "end", "-q", "--log-level", "warn"); code != 0 {
		t.Fatalf("mirror: exit %d\n%s", code, stderr)
	}
	verifyLine := regexp.MustCompile(`(?m)^time=\S+ level=INFO msg="verifying progress" unit=partitions done=3 total=3 per_sec=[0-9.]+ detail="6 source records read"$`)
	planLine := regexp.MustCompile(`(?m)^time=\S+ level=INFO msg="planning progress" unit=steps done=5 total=5 per_sec=[0-9.]+ detail=done$`)
	for _, tc := range []struct {
		name string
		args []string
		line *regexp.Regexp
	}{
		{"verify", []string{"verify", "--source", src, "--target", tgt}, verifyLine},
		{"plan", []string{"plan", "--source", src, "--target", tgt, "--until", "end"}, planLine},
	} {
		code, _, stderr := kmigrate(t, tc.args...)
		if code != 0 || len(tc.line.FindAllString(stderr, -1)) != 1 || strings.Contains(stderr, "\r") {
			t.Errorf("%s: exit %d, stderr %q: want one line matching %s and no bar", tc.name, code, stderr, tc.line)
		}
		code, _, stderr = kmigrate(t, append(tc.args, "--quiet")...)
		if code != 0 || strings.Contains(stderr, "progress") || strings.Contains(stderr, "\r") {
			t.Errorf("%s --quiet: exit %d, stderr %q: want no progress", tc.name, code, stderr)
		}
		// The bar and log lines share stderr: a buffer safe for both.
		var errOut lockedBuffer
		code = cli.Main(t.Context(), append(tc.args, "--progress", "always"), strings.NewReader(""), io.Discard, &errOut)
		stderr = errOut.String()
		if code != 0 || strings.Contains(stderr, "progress") || !strings.Contains(stderr, "\r") {
			t.Errorf("%s --progress always: exit %d, stderr %q: want a bar and no progress line", tc.name, code, stderr)
		}
	}
}
