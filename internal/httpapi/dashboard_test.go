package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/httpapi"
	"github.com/kmigrate/kmigrate/internal/offsets"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/status"
)

// fakeReports returns reports whose orders topic has advanced by 100
// source offsets and 5 s per call.
func fakeReports(t0 time.Time) (httpapi.ReportFunc, *int) {
	n := 0
	return func(context.Context) (*status.Report, error) {
		n++
		if n == 3 {
			return nil, errors.New("target unreachable")
		}
		next := int64(100 * n)
		return &status.Report{Migration: "m1", Time: t0.Add(time.Duration(5*n) * time.Second), Phase: state.PhaseSync,
			Next: "wait", Blockers: []string{"orders: lag 7"},
			Topics: []status.Topic{{Source: "orders", Target: "orders", State: "mirroring", Lag: 7, LagSeconds: 1.5, SourceWriteRate: 20,
				Partitions: []status.Partition{{Partition: 0, Next: next / 2}, {Partition: 1, Next: next / 2}}}}}, nil
	}, &n
}

func TestDashboardView(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	report, _ := fakeReports(t0)
	verified := &state.Verified{Version: 1, Time: t0, Mode: "full", OK: true, Partitions: 2, SourceRecords: 90, Matched: 90}
	d := httpapi.NewDashboard(httpapi.DashboardSources{
		Report:   report,
		Verified: func(context.Context) (*state.Verified, error) { return verified, nil },
		Now:      func() time.Time { return t0 },
	})
	for range 2 {
		d.Poll(t.Context())
	}
	v := d.View()
	if v.Status == nil || v.Status.Phase != "sync" || v.Polls != 2 || v.Error != "" || v.Verified != verified || v.Mirror != nil || v.Sync != nil {
		t.Fatalf("view after two polls: %+v", v)
	}
	want := []httpapi.Point{
		{Time: t0.Add(5 * time.Second), Topics: map[string]httpapi.PointTopic{"orders": {Lag: 7, LagSeconds: 1.5, SourceRate: 20}}},
		{Time: t0.Add(10 * time.Second), Topics: map[string]httpapi.PointTopic{"orders": {Lag: 7, LagSeconds: 1.5, SourceRate: 20, CopyRate: 20}}},
	}
	if fmt.Sprint(v.History) != fmt.Sprint(want) {
		t.Errorf("history %+v, want %+v", v.History, want)
	}
	// A failing report keeps the last good one and says why.
	d.Poll(t.Context())
	if v := d.View(); v.Error != "target unreachable" || v.Status.Time != t0.Add(10*time.Second) || len(v.History) != 2 || v.Polls != 3 {
		t.Errorf("after a failed report: error %q, status of %v, %d points, %d polls", v.Error, v.Status.Time, len(v.History), v.Polls)
	}
	for range httpapi.HistoryLen + 5 {
		d.Poll(t.Context())
	}
	if v := d.View(); len(v.History) != httpapi.HistoryLen || v.History[0].Time != t0.Add(time.Duration(5*(3+5+1))*time.Second) || v.Error != "" {
		t.Errorf("history of %d points from %v, want %d from %v", len(v.History), v.History[0].Time, httpapi.HistoryLen, t0.Add(45*time.Second))
	}
}

func TestDashboardHTTP(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	report, _ := fakeReports(t0)
	var asked []offsets.Options
	d := httpapi.NewDashboard(httpapi.DashboardSources{
		Report: report,
		Translate: func(_ context.Context, p offsets.Position, o offsets.Options) (offsets.Answer, error) {
			asked = append(asked, o)
			a := offsets.Answer{From: p, ToTopic: "orders", To: p.Offset + 3, Kind: "exact"}
			switch p.Topic {
			case "payments":
				return offsets.Answer{From: p, To: -1}, fmt.Errorf("%s: %w", p, offsets.ErrNotMigrated)
			case "natives":
				a.Unreachable = 2
				return a, fmt.Errorf("%s: %w", p, offsets.ErrUnreachable)
			case "broken":
				return a, errors.New("read migration state: timeout")
			}
			return a, nil
		},
	})
	d.Poll(t.Context())
	mux := http.NewServeMux()
	d.Register(mux)
	srv := httptest.NewServer(httpapi.BasicAuth(mux, "ops", "s3cret"))
	defer srv.Close()

	req := func(path string, auth bool) (int, string) {
		t.Helper()
		r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth {
			r.SetBasicAuth("ops", "s3cret")
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, _ := req("/", false); code != http.StatusUnauthorized {
		t.Errorf("/ without a login: %d, want 401", code)
	}
	if code, body := req("/", true); code != 200 || !strings.Contains(body, `<script src="/web/app.js">`) {
		t.Errorf("/ = %d %.200s", code, body)
	}
	for _, asset := range []string{"/web/app.js", "/web/style.css", "/web/vendor/uPlot.iife.min.js", "/web/vendor/uPlot.LICENSE"} {
		if code, body := req(asset, true); code != 200 || len(body) < 100 {
			t.Errorf("%s = %d, %d bytes", asset, code, len(body))
		}
	}
	code, body := req("/v1/dashboard", true)
	var v httpapi.View
	if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil || v.Status.Migration != "m1" || v.Status.Topics[0].Lag != 7 || len(v.History) != 1 {
		t.Errorf("/v1/dashboard = %d %v %.300s", code, err, body)
	}
	for _, tc := range []struct {
		query string
		code  int
		body  string
	}{
		{"topic=orders&partition=1&offset=40", 200, `"to": 43`},
		{"topic=orders&partition=1&offset=40&reverse=true&unreachable_natives=skip", 200, `"kind": "exact"`},
		{"topic=payments&partition=0&offset=1", 400, "not part of the migration"},
		{"topic=natives&partition=0&offset=1", 409, `"unreachable_natives": 2`},
		{"topic=broken&partition=0&offset=1", 503, "timeout"},
		{"topic=orders&partition=x&offset=1", 400, "want topic"},
		{"topic=orders&partition=0&offset=1&unreachable_natives=maybe", 400, "want topic"},
		{"partition=0&offset=1", 400, "want topic"},
	} {
		if code, body := req("/v1/translate?"+tc.query, true); code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("/v1/translate?%s = %d %q, want %d with %q", tc.query, code, body, tc.code, tc.body)
		}
	}
	if want := (offsets.Options{Reverse: true, Natives: groups.NativesSkip}); len(asked) < 2 || asked[1] != want {
		t.Errorf("translate options asked %+v, want the second %+v", asked, want)
	}
}
