package cluster

import (
	"strings"
	"testing"
)

// TestHonestGuess: a guess that names a release is kept; a range or
// "unknown" (what franz-go's guesser says of kfake, whose API set matches
// no release) becomes an explanation, not a wrong version.
func TestHonestGuess(t *testing.T) {
	for in, want := range map[string]string{
		"v3.9":                  "v3.9",
		"at least v4.0":         "at least v4.0",
		"between v1.0 and v1.1": "unknown: its API versions match no Apache Kafka release",
		"unknown":               "unknown: its API versions match no Apache Kafka release",
	} {
		if got := honestGuess(in); !strings.HasPrefix(got, want) {
			t.Errorf("honestGuess(%q) = %q, want it to start with %q", in, got, want)
		}
	}
}
