package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/httpapi"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/status"
)

// A migration mirrored in 3 work units by one process (this test's): the
// page shows the unit count and the member with the units it copies, as
// /v1/status reports them.
func TestDashboardUnitsInBrowser(t *testing.T) {
	ctx := browser(t)
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 6, map[string]string{"retention.ms": "-1"})
	ends := map[int32]int64{}
	for i := range 60 {
		pair.Source.Produce(t, &kgo.Record{Topic: "orders", Partition: int32(i % 6), Value: []byte("order")})
		ends[int32(i%6)]++
	}
	cfg := pair.Config(t, "units")
	cfg.Groups.Sync = false
	h := pair.Open(t, "units", cfg)
	stop := startMirrorUnits(t, h, ends, 3)
	defer stop()

	o := status.Options{Quiet: status.DefaultQuiet}
	mux := http.NewServeMux()
	httpapi.Register(mux, httpapi.Sources{Stats: func() (mirror.Stats, bool) { return mirror.Stats{}, false }, Status: func(ctx context.Context) (any, error) {
		return status.Make(ctx, h, o)
	}})
	d := httpapi.NewDashboard(httpapi.DashboardFor(h, nil, o))
	d.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	d.Poll(t.Context())
	want := statusOf(t, srv.URL)
	host, _ := os.Hostname()
	self := fmt.Sprintf("%d@%s", os.Getpid(), host)
	if want.Mirror.Units != 3 || len(want.Mirror.Members) != 1 || want.Mirror.Members[0].Owner != self {
		t.Fatalf("/v1/status mirror %+v, want 3 units copied by %s", want.Mirror, self)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	got := textOf(t, ctx, `#mirror dd[data-member="`+self+`"]`, func(s string) bool { return s != "" })
	if !strings.HasPrefix(got, "running; units 0, 1, 2; lag 0; ") {
		t.Errorf("member shown as %q, want running with units 0, 1, 2 and lag 0", got)
	}
	screenshot(t, ctx, "dashboard-units-1280.png", 1280)
}
