package cli

import "testing"

// An address without a host is loopback: the dashboard has no login by
// default, so other machines reach it only when the user names a host.
func TestLoopbackDefault(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"8080":           "127.0.0.1:8080",
		"0.0.0.0:8080":   "0.0.0.0:8080",
		"10.1.2.3:9464":  "10.1.2.3:9464",
		"[::1]:8080":     "[::1]:8080",
		"localhost:8080": "localhost:8080",
	} {
		if got := loopbackDefault(in); got != want {
			t.Errorf("loopbackDefault(%q) = %q, want %q", in, got, want)
		}
	}
}
