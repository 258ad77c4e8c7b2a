// Package httpapi serves what long-running kmigrate commands expose over
// HTTP: liveness (/healthz), readiness (/readyz) and Prometheus metrics
// (/metrics), the migration status (/v1/status, as kmigrate status --output
// json prints it), the consumer group sync status (/v1/groups), and Go
// profiles under /debug/pprof/. It is an adapter: domain packages report progress as plain
// snapshots (mirror.Stats) and know nothing of HTTP or Prometheus; metrics
// are computed from a snapshot at scrape time, so the copy loop pays
// nothing for them.
//
// Handlers are registered on an explicit *http.ServeMux, never the global
// one, so tests and embedding programs control what is served.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/mirror"
)

// StatsFunc returns the current progress snapshot, or false while there is
// none yet (the mirror has not started).
type StatsFunc func() (mirror.Stats, bool)

// GroupsFunc returns the consumer group sync status, or false while there
// is none (group sync is off or has not started).
type GroupsFunc func() (groups.SyncStatus, bool)

// StatusFunc computes the migration status served as GET /v1/status (the
// same report as kmigrate status --output json).
type StatusFunc func(ctx context.Context) (any, error)

// Sources are what the handlers serve. Stats is required; Groups and
// Status may be nil (not served).
type Sources struct {
	Stats  StatsFunc
	Groups GroupsFunc
	Status StatusFunc
}

// Register adds the handlers to mux.
func Register(mux *http.ServeMux, src Sources) {
	stats, groupsFn := src.Stats, src.Groups
	if src.Status != nil {
		mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
			st, err := src.Status(r.Context())
			if err != nil {
				http.Error(w, "status: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			writeJSON(w, st)
		})
	}
	if groupsFn == nil {
		groupsFn = func() (groups.SyncStatus, bool) { return groups.SyncStatus{}, false }
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{stats: stats}, &groupCollector{status: groupsFn})
	// The group sync status as JSON: the same struct the Syncer reports.
	mux.HandleFunc("GET /v1/groups", func(w http.ResponseWriter, _ *http.Request) {
		st, ok := groupsFn()
		if !ok {
			http.Error(w, "group sync is not running", http.StatusNotFound)
			return
		}
		writeJSON(w, st)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Profiles for diagnosing a slow or stuck mirror in production.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		s, ok := stats()
		if !ok || !s.Ready {
			http.Error(w, "not ready: the mirror is not copying yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Serve serves mux on addr until ctx ends, then shuts down gracefully. It
// returns once listening, with the bound address (useful with port 0), and
// reports serve errors to logger.
func Serve(ctx context.Context, addr string, mux *http.ServeMux, logger *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s for --http: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr(), nil
}

var (
	descRecords      = prometheus.NewDesc("kmigrate_mirror_records_total", "Records copied to the target (committed).", []string{"migration"}, nil)
	descBytes        = prometheus.NewDesc("kmigrate_mirror_bytes_total", "Key, value and header bytes copied to the target (committed).", []string{"migration"}, nil)
	descTxns         = prometheus.NewDesc("kmigrate_mirror_transactions_total", "Transactions committed on the target.", []string{"migration"}, nil)
	descErrors       = prometheus.NewDesc("kmigrate_mirror_errors_total", "Mirror sessions that ended in an error (each is resumed from the last checkpoint).", []string{"migration"}, nil)
	descReady        = prometheus.NewDesc("kmigrate_mirror_ready", "1 while the mirror is copying.", []string{"migration"}, nil)
	descLag          = prometheus.NewDesc("kmigrate_mirror_partition_lag_records", "Source high watermark minus the next source offset to copy.", []string{"migration", "topic", "partition"}, nil)
	descNext         = prometheus.NewDesc("kmigrate_mirror_partition_next_offset", "Next source offset to copy (committed on the target).", []string{"migration", "topic", "partition"}, nil)
	descPartRecords  = prometheus.NewDesc("kmigrate_mirror_partition_records_total", "Records copied from the partition by this process.", []string{"migration", "topic", "partition"}, nil)
	descStopped      = prometheus.NewDesc("kmigrate_mirror_partition_stopped", "1 when copying of the partition stopped on an error.", []string{"migration", "topic", "partition"}, nil)
	descExpiredTotal = prometheus.NewDesc("kmigrate_mirror_expired_offsets_total", "Source offsets that expired before they could be copied.", []string{"migration", "topic", "partition"}, nil)
	descUnitRunning  = prometheus.NewDesc("kmigrate_mirror_unit_running", "1 while this process copies the work unit (migrations divided into units).", []string{"migration", "unit"}, nil)
	descUnitLag      = prometheus.NewDesc("kmigrate_mirror_unit_lag_records", "The unit's partitions' lag, as this process last saw it.", []string{"migration", "unit"}, nil)
	descUnitRecords  = prometheus.NewDesc("kmigrate_mirror_unit_records_total", "Records this process copied for the unit.", []string{"migration", "unit"}, nil)
)

// collector turns a Stats snapshot into metrics at scrape time.
type collector struct{ stats StatsFunc }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descBytes, descTxns, descErrors, descReady, descLag, descNext, descPartRecords, descStopped, descExpiredTotal, descUnitRunning, descUnitLag, descUnitRecords} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.stats()
	if !ok {
		return
	}
	m := s.Migration
	ch <- prometheus.MustNewConstMetric(descRecords, prometheus.CounterValue, float64(s.Records), m)
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(s.Bytes), m)
	ch <- prometheus.MustNewConstMetric(descTxns, prometheus.CounterValue, float64(s.Transactions), m)
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(s.Errors), m)
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, b2f(s.Ready), m)
	for _, p := range s.Partitions {
		pn := strconv.Itoa(int(p.Partition))
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(p.Lag), m, p.Topic, pn)
		ch <- prometheus.MustNewConstMetric(descNext, prometheus.GaugeValue, float64(p.Next), m, p.Topic, pn)
		ch <- prometheus.MustNewConstMetric(descPartRecords, prometheus.CounterValue, float64(p.Records), m, p.Topic, pn)
		ch <- prometheus.MustNewConstMetric(descStopped, prometheus.GaugeValue, b2f(p.Stopped != ""), m, p.Topic, pn)
	}
	for _, u := range s.Units {
		un := strconv.Itoa(u.Unit)
		ch <- prometheus.MustNewConstMetric(descUnitRunning, prometheus.GaugeValue, b2f(u.Running), m, un)
		ch <- prometheus.MustNewConstMetric(descUnitLag, prometheus.GaugeValue, float64(u.Lag), m, un)
		ch <- prometheus.MustNewConstMetric(descUnitRecords, prometheus.CounterValue, float64(u.Records), m, un)
	}
	expired := map[[2]string]int64{}
	for _, e := range s.Expired {
		expired[[2]string{e.Topic, strconv.Itoa(int(e.Partition))}] += e.Count
	}
	for k, n := range expired {
		ch <- prometheus.MustNewConstMetric(descExpiredTotal, prometheus.CounterValue, float64(n), m, k[0], k[1])
	}
}

var (
	descGroupState   = prometheus.NewDesc("kmigrate_group_sync_state", "1 for the group's current sync state (syncing, switched, active-on-both, idle, error).", []string{"group", "state"}, nil)
	descGroupCommits = prometheus.NewDesc("kmigrate_group_sync_commits_total", "Target offsets committed by group sync for the group.", []string{"group"}, nil)
	descGroupBehind  = prometheus.NewDesc("kmigrate_group_sync_behind_partitions", "Partitions whose committed offset the mirror has not copied yet.", []string{"group"}, nil)
	descGroupPasses  = prometheus.NewDesc("kmigrate_group_sync_passes_total", "Group sync passes completed.", nil, nil)
)

// groupCollector turns the group sync status into metrics at scrape time.
type groupCollector struct{ status GroupsFunc }

func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descGroupState, descGroupCommits, descGroupBehind, descGroupPasses} {
		ch <- d
	}
}

func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := c.status()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(descGroupPasses, prometheus.CounterValue, float64(st.Passes))
	for _, g := range st.Groups {
		ch <- prometheus.MustNewConstMetric(descGroupState, prometheus.GaugeValue, 1, g.Group, g.State)
		ch <- prometheus.MustNewConstMetric(descGroupCommits, prometheus.CounterValue, float64(g.Commits), g.Group)
		ch <- prometheus.MustNewConstMetric(descGroupBehind, prometheus.GaugeValue, float64(g.Behind), g.Group)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
