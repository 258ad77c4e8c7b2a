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
		look := func() tally { return tally{done: 1, total: 2} }
		if err := e.track(context.Background(), kind, "verifying", "partitions", look, func() error { return want }); err != want {
			t.Errorf("kind %d: track returned %v", kind, err)
		}
		if drew := strings.Contains(stderr.String(), "groups"); drew != (kind == progressBar) {
			t.Errorf("kind %d: stderr %q", kind, stderr.String())
		}
		if logs.Len() != 0 {
			t.Errorf("kind %d: logged %q within the first interval", kind, logs.String())
		}
	}
}

// track: log mode ends with one line of the final numbers (the periodic
// ones come every progressLogEvery); the bar logs nothing; none shows
// nothing at all.
func TestTrackFinalLine(t *testing.T) {
	for _, tc := range []struct {
		kind progressKind
		want string
	}{
		{progressNone, ""},
		{progressBar, ""},
		{progressLog, `level=INFO msg="verifying progress" unit=partitions done=3 total=3 per_sec=`},
	} {
		var stderr, logs bytes.Buffer
		e := &env{stderr: &stderr, logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))}
		look := func() tally { return tally{done: 3, total: 3, detail: "45 source records read"} }
		if err := e.track(t.Context(), tc.kind, "verifying", "partitions", look, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		got := logs.String()
		if tc.want == "" && got != "" || tc.want != "" && (!strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, ` detail="45 source records read"`+"\n") || strings.Count(got, "\n") != 1) {
			t.Errorf("kind %d: logged %q, want %q...", tc.kind, got, tc.want)
		}
		if tc.kind == progressNone && stderr.Len() != 0 {
			t.Errorf("kind none drew %q", stderr.String())
		}
	}
}
