package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/httpapi"
	"github.com/kmigrate/kmigrate/internal/mirror"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
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

func TestEndpoints(t *testing.T) {
	var (
		have  bool
		stats mirror.Stats
	)
	mux := http.NewServeMux()
	var (
		haveGroups bool
		sync       groups.SyncStatus
	)
	httpapi.Register(mux, httpapi.Sources{
		Stats:  func() (mirror.Stats, bool) { return stats, have },
		Groups: func() (groups.SyncStatus, bool) { return sync, haveGroups },
		Status: func(context.Context) (any, error) { return map[string]any{"phase": "sync", "next": "a -> b"}, nil },
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	if code, body := get(t, srv, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, _ := get(t, srv, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the mirror started = %d, want 503", code)
	}
	if _, body := get(t, srv, "/metrics"); strings.Contains(body, "kmigrate_mirror") {
		t.Errorf("/metrics shows mirror metrics before the mirror started:\n%s", body)
	}

	have = true
	stats = mirror.Stats{
		Migration: "m1", Records: 1200, Bytes: 4096, Transactions: 7, Errors: 2, Ready: true,
		Partitions: []mirror.PartitionStats{
			{Topic: "orders", Partition: 0, Next: 600, HighWatermark: 650, Lag: 50, Records: 600},
			{Topic: "orders", Partition: 1, Next: 600, HighWatermark: 600, Records: 600, Stopped: "too large"},
		},
		Expired: []mirror.ExpiredRange{{Topic: "orders", Partition: 0, From: 0, Until: 30, Count: 30}, {Topic: "orders", Partition: 0, From: 40, Until: 45, Count: 5}},
		Units:   []mirror.UnitStats{{Unit: 0, Running: true, Lag: 50, Records: 700}, {Unit: 3, Running: false, Lag: 0, Records: 500}},
	}
	if code, body := get(t, srv, "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz while copying = %d %q, want 200 ready", code, body)
	}
	_, body := get(t, srv, "/metrics")
	for _, want := range []string{
		`kmigrate_mirror_records_total{migration="m1"} 1200`,
		`kmigrate_mirror_bytes_total{migration="m1"} 4096`,
		`kmigrate_mirror_transactions_total{migration="m1"} 7`,
		`kmigrate_mirror_errors_total{migration="m1"} 2`,
		`kmigrate_mirror_ready{migration="m1"} 1`,
		`kmigrate_mirror_partition_lag_records{migration="m1",partition="0",topic="orders"} 50`,
		`kmigrate_mirror_partition_lag_records{migration="m1",partition="1",topic="orders"} 0`,
		`kmigrate_mirror_partition_next_offset{migration="m1",partition="1",topic="orders"} 600`,
		`kmigrate_mirror_partition_stopped{migration="m1",partition="1",topic="orders"} 1`,
		`kmigrate_mirror_partition_stopped{migration="m1",partition="0",topic="orders"} 0`,
		`kmigrate_mirror_expired_offsets_total{migration="m1",partition="0",topic="orders"} 35`,
		`kmigrate_mirror_unit_running{migration="m1",unit="0"} 1`,
		`kmigrate_mirror_unit_running{migration="m1",unit="3"} 0`,
		`kmigrate_mirror_unit_lag_records{migration="m1",unit="0"} 50`,
		`kmigrate_mirror_unit_records_total{migration="m1",unit="3"} 500`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := get(t, srv, "/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/ = %d, want 200", code)
	}

	if code, body := get(t, srv, "/v1/status"); code != 200 || body != "{\n  \"next\": \"a -> b\",\n  \"phase\": \"sync\"\n}\n" {
		t.Errorf("/v1/status = %d %q", code, body)
	}
	if code, _ := get(t, srv, "/v1/groups"); code != http.StatusNotFound {
		t.Errorf("/v1/groups without group sync = %d, want 404", code)
	}
	haveGroups = true
	sync = groups.SyncStatus{Passes: 3, LastPass: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), Groups: []groups.SyncedGroup{
		{Group: "billing", State: groups.SyncSyncing, Source: groups.Side{State: "Stable", Members: 2}, Target: groups.Side{State: "Dead"}, Commits: 12, Behind: 1},
		{Group: "reports", State: groups.SyncActiveOnBoth, Source: groups.Side{State: "Stable", Members: 1}, Target: groups.Side{State: "Stable", Members: 1}},
	}}
	_, body = get(t, srv, "/metrics")
	for _, want := range []string{
		`kmigrate_group_sync_passes_total 3`,
		`kmigrate_group_sync_state{group="billing",state="syncing"} 1`,
		`kmigrate_group_sync_state{group="reports",state="active-on-both"} 1`,
		`kmigrate_group_sync_commits_total{group="billing"} 12`,
		`kmigrate_group_sync_behind_partitions{group="billing"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	code, body := get(t, srv, "/v1/groups")
	var got groups.SyncStatus
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || !reflect.DeepEqual(got, sync) {
		t.Errorf("/v1/groups = %d %s (%v), want %+v", code, body, err, sync)
	}
}
