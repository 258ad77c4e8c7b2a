package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cutover"
	"github.com/kmigrate/kmigrate/internal/httpapi"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/status"
)

// browser starts headless Chromium (Debian's /usr/bin/chromium, or
// KMIGRATE_CHROMIUM) and returns a context driving one tab. The test
// skips without it, unless KMIGRATE_REQUIRE_CLIENTS=1 (CI installs it).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("KMIGRATE_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("KMIGRATE_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("chromium is required (KMIGRATE_REQUIRE_CLIENTS=1): %v; apt-get install chromium", err)
		}
		t.Skipf("chromium not installed (%v): apt-get install chromium", err)
	}
	// The flags keep Chromium off the network (the machines have none
	// but the package registries) and usable as root.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// textOf waits (bounded) until the element matching sel has text for
// which ok holds, and returns it.
func textOf(t *testing.T, ctx context.Context, sel string, ok func(string) bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
		if err == nil && ok(got) {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: text %q (%v) never became what the test waits for", sel, got, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func screenshot(t *testing.T, ctx context.Context, name string, width int64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if dir := os.Getenv("KMIGRATE_SCREENSHOTS"); dir != "" {
		path = filepath.Join(dir, name)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// statusOf asks GET /v1/status as automation would.
func statusOf(t *testing.T, url string) status.Report {
	t.Helper()
	resp, err := http.Get(url + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r status.Report
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/v1/status: %d %v", resp.StatusCode, err)
	}
	return r
}

// startMirror runs a continuous mirror of h until the returned stop is
// called, and waits until it has copied the source up to ends.
func startMirror(t *testing.T, h *migration.Handle, ends map[int32]int64) (stop func()) {
	t.Helper()
	return startMirrorUnits(t, h, ends, 0)
}

// startMirrorUnits is startMirror in n work units (0: as the migration
// has them).
func startMirrorUnits(t *testing.T, h *migration.Handle, ends map[int32]int64, n int) (stop func()) {
	t.Helper()
	r, err := migrate.New(t.Context(), h, migrate.Options{PromotionCheck: 100 * time.Millisecond, Units: n})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("mirror: %v", err)
		}
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer wcancel()
	for {
		snap, err := h.LoadState(wctx)
		copied := err == nil
		for p, end := range ends {
			copied = copied && snap.Checkpoints[state.TopicPartition{Topic: "orders", Partition: p}].Next >= end
		}
		if copied {
			return stop
		}
		select {
		case <-wctx.Done():
			stop()
			t.Fatalf("the mirror did not copy up to %v", ends)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A person watching the dashboard of a live mirror sees the phase, the lag
// /v1/status reports, the blockers in words, the last verify result, and
// the topic as promoted after kmigrate promote; at 1280 px and phone width.
func TestDashboardInBrowser(t *testing.T) {
	ctx := browser(t)
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1"})
	produce := func(n int) {
		for i := range n {
			pair.Source.Produce(t, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: fmt.Appendf(nil, "order %d", i)})
		}
	}
	produce(40)
	cfg := pair.Config(t, "dash")
	cfg.Groups.Sync = false
	h := pair.Open(t, "dash", cfg)
	stop := startMirror(t, h, map[int32]int64{0: 20, 1: 20})

	// A verify run recorded its summary.
	rec, err := state.VerifiedRecord(h.StateTopic(), state.Verified{Time: time.Now().UTC(), Host: "ops-1", Mode: "full", OK: true,
		Partitions: 2, SourceRecords: 40, Matched: 40})
	if err != nil {
		t.Fatal(err)
	}
	if err := state.Write(t.Context(), h.Target(), rec); err != nil {
		t.Fatal(err)
	}

	// The mirror stops and producers write on: a lag that holds still.
	stop()
	produce(14)
	mux := http.NewServeMux()
	httpapi.Register(mux, httpapi.Sources{Stats: func() (mirror.Stats, bool) { return mirror.Stats{}, false }, Status: func(ctx context.Context) (any, error) {
		return status.Make(ctx, h, status.Options{Quiet: status.DefaultQuiet, Sample: 0})
	}})
	d := httpapi.NewDashboard(httpapi.DashboardFor(h, nil, status.Options{Quiet: status.DefaultQuiet}))
	d.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	d.Poll(t.Context())
	want := statusOf(t, srv.URL)
	if want.Topics[0].Lag != 14 || len(want.Blockers) == 0 {
		t.Fatalf("fixture: /v1/status lag %d, blockers %q; want lag 14 and a blocker", want.Topics[0].Lag, want.Blockers)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	if got := textOf(t, ctx, "#phase", func(s string) bool { return s != "–" }); got != "sync" {
		t.Errorf("phase shown %q, want sync", got)
	}
	if got := textOf(t, ctx, `tr[data-topic="orders"] td[data-field="lag"]`, func(s string) bool { return s != "" }); got != "14" {
		t.Errorf("lag shown %q, /v1/status says %d", got, want.Topics[0].Lag)
	}
	blockers := textOf(t, ctx, "#blockers", func(s string) bool { return s != "" })
	for _, b := range want.Blockers {
		if !strings.Contains(blockers, b) {
			t.Errorf("blockers shown %q lack %q", blockers, b)
		}
	}
	if got := textOf(t, ctx, "#verify", func(s string) bool { return strings.HasPrefix(s, "PASSED") }); !strings.Contains(got, "40 of 40 source records matched in 2 partitions") {
		t.Errorf("verify shown %q", got)
	}
	if got := textOf(t, ctx, `tr[data-topic="orders"] td[data-field="promoted"]`, func(s string) bool { return s != "" }); got != "no" {
		t.Errorf("promoted shown %q before promote, want no", got)
	}
	screenshot(t, ctx, "dashboard-sync-1280.png", 1280)

	// The mirror catches up, the topic is promoted.
	// (A handle opened before the first run would take the topic the
	// run created for a conflict: open it again, as a restart does.)
	stop = startMirror(t, pair.Open(t, "dash", cfg), map[int32]int64{0: 27, 1: 27})
	res, err := cutover.Promote(t.Context(), h, []string{"orders"}, true, status.Options{Quiet: status.DefaultQuiet})
	stop()
	if err != nil || len(res.Promoted) != 1 {
		t.Fatalf("promote: %+v, %v", res, err)
	}
	d.Poll(t.Context())
	after := statusOf(t, srv.URL)
	if got := textOf(t, ctx, `tr[data-topic="orders"] td[data-field="promoted"]`, func(s string) bool { return strings.HasPrefix(s, "promoted ") }); !strings.HasPrefix(got, "promoted ") {
		t.Errorf("promoted shown %q after promote, want promoted <time>", got)
	}
	if got := textOf(t, ctx, "#phase", func(s string) bool { return s != "sync" && s != "" }); got != after.Phase || got != state.PhaseDone {
		t.Errorf("phase shown %q after promote, /v1/status says %q, want done", got, after.Phase)
	}
	if got := textOf(t, ctx, `tr[data-topic="orders"] td[data-field="lag"]`, func(s string) bool { return s != "14" && s != "" }); got != fmt.Sprint(after.Topics[0].Lag) {
		t.Errorf("lag shown %q after promote, /v1/status says %d", got, after.Topics[0].Lag)
	}
	if got := textOf(t, ctx, "#history", func(s string) bool { return strings.Contains(s, "promote") }); !strings.Contains(got, "orders") {
		t.Errorf("history shown %q, want the promotion of orders", got)
	}
	screenshot(t, ctx, "dashboard-done-1280.png", 1280)
	// Phone width: no sideways scrolling of the page itself.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	scroll, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	inner, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if scroll > inner {
		t.Errorf("at phone width the page is %d px wide in a %d px window", scroll, inner)
	}
	screenshot(t, ctx, "dashboard-done-390.png", 390)
}
