package cli_test

import (
	"strings"
	"testing"
)

// TestMirrorSessionTimeoutRefused: --session-timeout outside 1s-30m is a
// usage error (exit 2) that names the flag, the range and the brokers'
// own bounds, before any cluster is contacted.
func TestMirrorSessionTimeoutRefused(t *testing.T) {
	for v, shown := range map[string]string{"0s": "0s", "-5s": "-5s", "500ms": "500ms", "31m": "31m0s"} {
		code, _, stderr := kmigrate(t, "mirror", "--source", "127.0.0.1:1", "--target", "127.0.0.1:2", "--units", "2", "--session-timeout", v)
		want := "--session-timeout " + shown + ": use 1s to 30m"
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("--session-timeout %s: exit %d, stderr %q; want exit 2 and %q", v, code, stderr, want)
		}
	}
}
