// Package gatewayhttp serves a gateway's control and status over HTTP:
// GET /v1/gateway (routes and counters), GET /metrics (the same, for
// Prometheus), POST /v1/gateway/promote/{topic}
// (a switch through this gateway, answered when it finished or was
// undone), GET /healthz and the Go profiles under /debug/pprof/ (for a
// slow gateway in production, and the benchmark's profile). It is an adapter: package gateway knows
// nothing of HTTP. Handlers go on an explicit *http.ServeMux.
package gatewayhttp

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/gateway"
)

// Status is the body of GET /v1/gateway.
type Status struct {
	// Routes says where each topic's writes go: source, holding or
	// target.
	Routes        map[string]string `json:"routes"`
	Connections   int64             `json:"connections"`
	Requests      map[string]int64  `json:"requests"` // by API name
	SourceRecords int64             `json:"source_records"`
	TargetRecords int64             `json:"target_records"`
	Duplicates    int64             `json:"duplicates"`
	HeldTimeouts  int64             `json:"held_timeouts"`
	// PausesMillis is each switch's measured write pause.
	PausesMillis map[string]int64 `json:"pauses_ms"`
	Aborted      map[string]int   `json:"aborted_switches"`
	// StateRead is when the migration's state was last read (absent
	// before the first read); StateError why the last read failed.
	StateRead  *time.Time `json:"state_read,omitempty"`
	StateError string     `json:"state_error,omitempty"`
}

// Switched is the body of a successful POST /v1/gateway/promote/{topic}.
type Switched struct {
	Topic       string          `json:"topic"`
	PauseMillis int64           `json:"pause_ms"`
	Ends        map[int32]int64 `json:"source_end_offsets"`
}

// Problem is the body of a failed request.
type Problem struct {
	Error string `json:"error"`
}

// Register adds the handlers for gw to mux.
func Register(mux *http.ServeMux, gw *gateway.Server) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{gw})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /v1/gateway", func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, status(gw))
	})
	mux.HandleFunc("POST /v1/gateway/promote/{topic}", func(w http.ResponseWriter, r *http.Request) {
		sw, err := gw.Promote(r.Context(), r.PathValue("topic"))
		switch {
		case errors.Is(err, gateway.ErrUnknownTopic):
			write(w, http.StatusNotFound, Problem{err.Error()})
		case errors.Is(err, gateway.ErrNotOnSource):
			write(w, http.StatusConflict, Problem{err.Error()})
		case err != nil:
			write(w, http.StatusServiceUnavailable, Problem{err.Error()})
		default:
			write(w, http.StatusOK, Switched{Topic: sw.Topic, PauseMillis: sw.Pause.Milliseconds(), Ends: sw.Ends})
		}
	})
}

func status(gw *gateway.Server) Status {
	st := gw.Stats()
	out := Status{
		Routes: map[string]string{}, Connections: st.Connections, Requests: map[string]int64{},
		SourceRecords: st.SourceRecords, TargetRecords: st.TargetRecords, Duplicates: st.Duplicates,
		HeldTimeouts: st.HeldTimeouts, PausesMillis: map[string]int64{}, Aborted: st.Aborted,
		StateError: st.StateError,
	}
	if !st.StateRead.IsZero() {
		out.StateRead = &st.StateRead
	}
	for t, side := range gw.Routes() {
		out.Routes[t] = side.String()
	}
	for k, n := range st.Requests {
		out.Requests[kmsg.NameForKey(k)] = n
	}
	for t, p := range st.Pauses {
		out.PausesMillis[t] = p.Milliseconds()
	}
	return out
}

func write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away
}
