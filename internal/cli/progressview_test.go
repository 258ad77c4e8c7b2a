package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// --quiet and --progress never show nothing; a terminal gets the bar, any
// other stderr log lines, unless --progress always.
func TestProgressKind(t *testing.T) {
	var buf bytes.Buffer
	for _, tc := range []struct {
		f    progressFlags
		want progressKind
	}{
		{progressFlags{mode: "auto"}, progressLog},
		{progressFlags{mode: "always"}, progressBar},
		{progressFlags{mode: "never"}, progressNone},
		{progressFlags{mode: "always", quiet: true}, progressNone},
		{progressFlags{mode: "auto", quiet: true}, progressNone},
	} {
		if got := tc.f.kind(&buf); got != tc.want {
			t.Errorf("%+v: kind %d, want %d", tc.f, got, tc.want)
		}
	}
	if err := (&progressFlags{mode: "sometimes"}).check(); exitCode(err) != exitUsage {
		t.Errorf("--progress sometimes: %v, want a usage error", err)
	}
}

// The bar draws on stderr only; log mode and none draw nothing there; the
// work's error comes back.
func TestProgressOutput(t *testing.T) {
	for _, kind := range []progressKind{progressNone, progressLog, progressBar} {
		var stderr, logs bytes.Buffer
		e := &env{stderr: &stderr, logger: slog.New(slog.NewTextHandler(&logs, nil))}
		c := e.newCounter(kind, "groups", 3)
		for range 3 {
			c.Add(1)
		}
		c.Finish()
		want := errors.New("cluster gone")
		if err := e.whileRunning(context.Background(), kind, "verifying", func() error { return want }); err != want {
			t.Errorf("kind %d: whileRunning returned %v", kind, err)
		}
		if drew := strings.Contains(stderr.String(), "groups"); drew != (kind == progressBar) {
			t.Errorf("kind %d: stderr %q", kind, stderr.String())
		}
		if logs.Len() != 0 {
			t.Errorf("kind %d: logged %q within the first interval", kind, logs.String())
		}
	}
}
