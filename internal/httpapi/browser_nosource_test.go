package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/httpapi"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/status"
)

// The dashboard of kmigrate status --serve on a machine that reaches only
// the target: the page shows the migration from the target and its state,
// says that the source is not read, and shows lag, source writes and
// producers as "unknown" rather than as numbers.
func TestDashboardWithoutSourceInBrowser(t *testing.T) {
	ctx := browser(t)
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1"})
	for i := range 10 {
		pair.Source.Produce(t, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: []byte("order")})
	}
	cfg := pair.Config(t, "dash")
	cfg.Groups.Sync = false
	stop := startMirror(t, pair.Open(t, "dash", cfg), map[int32]int64{0: 5, 1: 5})
	stop()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	nosrc := *cfg
	nosrc.Source.Bootstrap = []string{closed}
	nosrc.Source.ConnectTimeout = 2 * time.Second
	tg, err := status.OpenTarget(t.Context(), &nosrc, nil)
	if err != nil {
		t.Fatalf("open from the target alone: %v", err)
	}
	defer tg.Close()
	o := status.Options{Quiet: status.DefaultQuiet}
	mux := http.NewServeMux()
	httpapi.Register(mux, httpapi.Sources{Stats: func() (mirror.Stats, bool) { return mirror.Stats{}, false }, Status: func(ctx context.Context) (any, error) {
		return status.MakeFrom(ctx, tg.Clusters(), o)
	}})
	d := httpapi.NewDashboard(httpapi.DashboardForTarget(tg, o))
	d.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	d.Poll(t.Context())
	want := statusOf(t, srv.URL)
	if want.SourceUnknown == "" || want.Migration != "dash" || len(want.Topics) != 1 || want.Topics[0].Lag != status.Unknown {
		t.Fatalf("/v1/status: source_unknown %q, migration %q, topics %+v; want dash with orders of unknown lag", want.SourceUnknown, want.Migration, want.Topics)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	if got := textOf(t, ctx, "#phase", func(s string) bool { return s != "–" }); got != want.Phase {
		t.Errorf("phase shown %q, /v1/status says %q", got, want.Phase)
	}
	for field, wantText := range map[string]string{"lag": "unknown", "producers": "unknown", "state": "mirroring"} {
		if got := textOf(t, ctx, `tr[data-topic="orders"] td[data-field="`+field+`"]`, func(s string) bool { return s != "" }); got != wantText {
			t.Errorf("%s shown %q, want %q", field, got, wantText)
		}
	}
	if got := textOf(t, ctx, "#freshness", func(s string) bool { return strings.HasPrefix(s, "Status of") }); !strings.Contains(got, "The source is not read from here") {
		t.Errorf("freshness line %q does not say the source is not read", got)
	}
	if got := textOf(t, ctx, "#next", func(s string) bool { return s != "–" }); got != want.Next {
		t.Errorf("next step shown %q, /v1/status says %q", got, want.Next)
	}
	screenshot(t, ctx, "dashboard-nosource-1280.png", 1280)
}
