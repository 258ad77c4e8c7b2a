package cli_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestPromoteReleasesGuards: a bounded copy with --protect-target leaves
// its write guards (no mirror runs to watch the promotions); `promote`
// itself removes the guard of the topic it promotes, says so, and leaves
// the other topic's guard; once both are promoted none of kmigrate's
// bindings remains.
func TestPromoteReleasesGuards(t *testing.T) {
	pair, copied, spec := protectFixture(t, "guarded-bounded")
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := kmigrate(t, append(args, "-f", spec, "--log-level", "warn")...)
		if code != 0 {
			t.Fatalf("kmigrate %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	run("mirror", "--until", "end", "--protect-target", "--progress", "never")
	for _, topic := range []string{"orders", "payments"} {
		if err := produceAs(t, pair.Target, topic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("app writes to the mirrored target topic %s: %v, want TOPIC_AUTHORIZATION_FAILED", topic, err)
		}
	}

	if out := run("promote", "--topic", "orders", "--force"); !strings.Contains(out, "Write guards removed: orders\n") {
		t.Errorf("promote orders says:\n%s\nwant the guard of orders removed", out)
	}
	if err := produceAs(t, pair.Target, "orders"); err != nil {
		t.Errorf("app writes to the promoted orders: %v, want success", err)
	}
	if err := produceAs(t, pair.Target, "payments"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("app writes to payments, not promoted: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	if out := run("promote", "--topic", "payments", "--force"); !strings.Contains(out, "Write guards removed: payments\n") {
		t.Errorf("promote payments says:\n%s\nwant the guard of payments removed", out)
	}
	assertOnlyCopied(t, pair, copied)
}
