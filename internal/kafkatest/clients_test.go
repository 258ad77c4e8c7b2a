package kafkatest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

const installHint = "apt-get install -y kcat python3-confluent-kafka"

// TestRequireClientMissing hides the clients (an empty PATH, a Python
// without confluent_kafka) and checks that tests skip with instructions,
// or fail when KMIGRATE_REQUIRE_CLIENTS=1.
func TestRequireClientMissing(t *testing.T) {
	dir := t.TempDir()
	noModule := filepath.Join(dir, "python3")
	script := "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'confluent_kafka'\" >&2\nexit 1\n"
	if err := os.WriteFile(noModule, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	for _, tc := range []struct {
		name, client, python string
		want                 []string
	}{
		{"kcat", kafkatest.ClientKcat, "", []string{"kcat is not installed (not found in PATH)", installHint}},
		{"no interpreter", kafkatest.ClientPython, filepath.Join(dir, "missing"), []string{"no Python interpreter at " + filepath.Join(dir, "missing"), installHint}},
		{"no module", kafkatest.ClientPython, noModule, []string{"cannot import confluent_kafka", "No module named 'confluent_kafka'", installHint}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(kafkatest.EnvPython, tc.python)

			t.Setenv(kafkatest.EnvRequireClients, "")
			r := record(t, func(tb testing.TB) { kafkatest.RequireClient(tb, tc.client) })
			if r.fatal != "" {
				t.Errorf("failed (%q), want a skip", r.fatal)
			}
			for _, w := range append(tc.want, "set KMIGRATE_REQUIRE_CLIENTS=1 to fail instead of skipping") {
				if !strings.Contains(r.skipped, w) {
					t.Errorf("skip message %q does not contain %q", r.skipped, w)
				}
			}

			t.Setenv(kafkatest.EnvRequireClients, "1")
			r = record(t, func(tb testing.TB) { kafkatest.RequireClient(tb, tc.client) })
			if r.skipped != "" {
				t.Errorf("skipped (%q) with KMIGRATE_REQUIRE_CLIENTS=1, want a failure", r.skipped)
			}
			for _, w := range append(tc.want, "KMIGRATE_REQUIRE_CLIENTS=1 makes this a failure") {
				if !strings.Contains(r.fatal, w) {
					t.Errorf("failure message %q does not contain %q", r.fatal, w)
				}
			}
		})
	}

	t.Run("drivers skip too", func(t *testing.T) {
		t.Setenv(kafkatest.EnvRequireClients, "")
		t.Setenv(kafkatest.EnvPython, noModule)
		c := kafkatest.New(t, kafkatest.Brokers(1))
		if r := record(t, func(tb testing.TB) { kafkatest.NewKcat(tb, c) }); r.skipped == "" {
			t.Error("NewKcat did not skip without kcat")
		}
		if r := record(t, func(tb testing.TB) { kafkatest.NewPython(tb, c) }); r.skipped == "" {
			t.Error("NewPython did not skip without confluent_kafka")
		}
	})
}

func TestRequireClientUnknown(t *testing.T) {
	t.Setenv(kafkatest.EnvRequireClients, "")
	r := record(t, func(tb testing.TB) { kafkatest.RequireClient(tb, "kafka-console-consumer") })
	if !strings.Contains(r.fatal, `unknown third-party client "kafka-console-consumer"`) {
		t.Errorf("fatal = %q, want an unknown-client failure even without KMIGRATE_REQUIRE_CLIENTS", r.fatal)
	}
}

// TestRequireClientPresent runs where the clients are installed (it skips
// elsewhere, like every client test) and checks the paths returned.
func TestRequireClientPresent(t *testing.T) {
	if got := kafkatest.RequireClient(t, kafkatest.ClientKcat); filepath.Base(got) != "kcat" && filepath.Base(got) != "kafkacat" {
		t.Errorf("RequireClient(kcat) = %q", got)
	}
	want := os.Getenv(kafkatest.EnvPython)
	if want == "" {
		want = "/usr/bin/python3"
	}
	if got := kafkatest.RequireClient(t, kafkatest.ClientPython); got != want {
		t.Errorf("RequireClient(python) = %q, want %q", got, want)
	}
}
