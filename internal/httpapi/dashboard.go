package httpapi

// The dashboard: one page (web/, embedded into the binary) that shows a
// migration as it runs, and the JSON it polls.
//
// Why a recorder in the server rather than charts from /v1/status in the
// browser: a status report costs real reads of both clusters (and a write
// rate sample of a few seconds), so the server computes one every
// DashboardEvery whatever the number of open pages, and keeps the last
// minutes of per-topic lag and rates; a page opened late still sees the
// history, and a reload costs nothing. The page polls GET /v1/dashboard
// (served from memory) every few seconds.

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/offsets"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/status"
)

//go:embed web
var web embed.FS

// DashboardEvery is how often the dashboard computes a status report.
const DashboardEvery = 5 * time.Second

// HistoryLen is how many reports the dashboard's charts keep (six minutes
// at DashboardEvery).
const HistoryLen = 72

// ReportFunc computes a status report.
type ReportFunc func(ctx context.Context) (*status.Report, error)

// VerifiedFunc reads the last verify summary from the state (nil if none).
type VerifiedFunc func(ctx context.Context) (*state.Verified, error)

// TranslateFunc translates one position, as kmigrate offsets translate.
type TranslateFunc func(ctx context.Context, p offsets.Position, o offsets.Options) (offsets.Answer, error)

// DashboardSources are what the dashboard shows. Report is required; the
// others may be nil (not shown, or not served).
type DashboardSources struct {
	Report    ReportFunc
	Verified  VerifiedFunc
	Stats     StatsFunc
	Groups    GroupsFunc
	Translate TranslateFunc
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Point is one report's numbers per topic, for the charts.
type Point struct {
	Time   time.Time             `json:"time"`
	Topics map[string]PointTopic `json:"topics"`
}

// PointTopic is one topic in a Point. CopyRate is source offsets handled by
// the mirror per second since the previous point (records copied, plus
// markers and aborted records passed).
type PointTopic struct {
	Lag        int64   `json:"lag"`
	LagSeconds float64 `json:"lag_seconds"`
	SourceRate float64 `json:"source_rate"`
	CopyRate   float64 `json:"copy_rate"`
	NativeRate float64 `json:"native_rate"`
}

// View is what GET /v1/dashboard serves.
type View struct {
	Status   *status.Report     `json:"status"`
	History  []Point            `json:"history"`
	Verified *state.Verified    `json:"verified"`
	Mirror   *mirror.Stats      `json:"mirror"`
	Sync     *groups.SyncStatus `json:"group_sync"`
	// Error is why the last report failed ("" when it did not); Status
	// is then the last good one.
	Error   string    `json:"error,omitempty"`
	Updated time.Time `json:"updated"`
	// Polls counts the reports attempted.
	Polls int64 `json:"polls"`
}

// Dashboard keeps the latest report and the history.
type Dashboard struct {
	src DashboardSources

	mu       sync.Mutex
	last     *status.Report
	history  []Point
	verified *state.Verified
	err      string
	updated  time.Time
	polls    int64
	prevNext map[string]int64
}

// NewDashboard returns a dashboard over src; call Run (or Poll) to fill
// it.
func NewDashboard(src DashboardSources) *Dashboard {
	if src.Now == nil {
		src.Now = time.Now
	}
	return &Dashboard{src: src}
}

// Run polls every interval until ctx ends, starting at once.
func (d *Dashboard) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		d.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll computes one report (and reads the verify summary) and records it.
func (d *Dashboard) Poll(ctx context.Context) {
	r, err := d.src.Report(ctx)
	var v *state.Verified
	var verr error
	if err == nil && d.src.Verified != nil {
		v, verr = d.src.Verified(ctx)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.polls++
	d.updated = d.src.Now().UTC()
	if err != nil {
		d.err = err.Error()
		return
	}
	d.err = ""
	if verr == nil && v != nil {
		d.verified = v
	}
	p := Point{Time: r.Time, Topics: map[string]PointTopic{}}
	next := map[string]int64{}
	var prevTime time.Time
	if n := len(d.history); n > 0 {
		prevTime = d.history[n-1].Time
	}
	for _, t := range r.Topics {
		var sum int64
		for _, part := range t.Partitions {
			sum += part.Next
		}
		next[t.Source] = sum
		pt := PointTopic{Lag: t.Lag, LagSeconds: t.LagSeconds, SourceRate: t.SourceWriteRate, NativeRate: t.TargetNativeRate}
		if prev, ok := d.prevNext[t.Source]; ok && r.Time.After(prevTime) {
			pt.CopyRate = float64(max(0, sum-prev)) / r.Time.Sub(prevTime).Seconds()
		}
		p.Topics[t.Source] = pt
	}
	d.prevNext = next
	d.last = r
	d.history = append(d.history, p)
	if len(d.history) > HistoryLen {
		d.history = append(d.history[:0:0], d.history[len(d.history)-HistoryLen:]...)
	}
}

// View returns what the page shows now.
func (d *Dashboard) View() View {
	d.mu.Lock()
	v := View{Status: d.last, History: append([]Point{}, d.history...), Verified: d.verified,
		Error: d.err, Updated: d.updated, Polls: d.polls}
	d.mu.Unlock()
	if d.src.Stats != nil {
		if s, ok := d.src.Stats(); ok {
			v.Mirror = &s
		}
	}
	if d.src.Groups != nil {
		if s, ok := d.src.Groups(); ok {
			v.Sync = &s
		}
	}
	return v
}

// Register adds the page (GET /), its assets (GET /web/), GET
// /v1/dashboard and, when the sources translate, GET /v1/translate.
func (d *Dashboard) Register(mux *http.ServeMux) {
	sub, _ := fs.Sub(web, "web")
	mux.Handle("GET /web/", http.StripPrefix("/web/", http.FileServerFS(sub)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, sub, "index.html")
	})
	mux.HandleFunc("GET /v1/dashboard", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, d.View())
	})
	if d.src.Translate != nil {
		mux.HandleFunc("GET /v1/translate", d.translate)
	}
}

// translate serves GET /v1/translate?topic=&partition=&offset=
// [&reverse=true][&unreachable_natives=skip|reread]: 200 with the answer,
// 400 for a bad query or a topic outside the migration, 409 when
// unreachable natives need a choice (with the answer), 503 when the state
// cannot be read.
func (d *Dashboard) translate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	part, perr := strconv.ParseInt(q.Get("partition"), 10, 32)
	off, oerr := strconv.ParseInt(q.Get("offset"), 10, 64)
	choice, cerr := groups.ParseNativeChoice(q.Get("unreachable_natives"))
	reverse := q.Get("reverse") == "true"
	if q.Get("topic") == "" || perr != nil || part < 0 || oerr != nil || cerr != nil || (q.Has("reverse") && !reverse && q.Get("reverse") != "false") {
		http.Error(w, "want topic, partition and offset (numbers), optional reverse=true and unreachable_natives=refuse|skip|reread", http.StatusBadRequest)
		return
	}
	pos := offsets.Position{Topic: q.Get("topic"), Partition: int32(part), Offset: off}
	a, err := d.src.Translate(r.Context(), pos, offsets.Options{Reverse: reverse, Natives: choice})
	switch {
	case err == nil:
		writeJSON(w, a)
	case errors.Is(err, offsets.ErrUnreachable):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		writeJSON(w, struct {
			offsets.Answer
			Error string `json:"error"`
		}{a, err.Error()})
	case errors.Is(err, offsets.ErrNotMigrated), errors.Is(err, groups.ErrOffset), errors.Is(err, groups.ErrNoMapping):
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		http.Error(w, "translate: "+err.Error(), http.StatusServiceUnavailable)
	}
}

// BasicAuth wraps h so that every request must carry user and password
// (HTTP basic authentication); both empty leaves h open.
func BasicAuth(h http.Handler, user, password string) http.Handler {
	if user == "" && password == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="kmigrate"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
