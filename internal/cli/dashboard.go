package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/httpapi"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/status"
)

// Environment variables that turn on HTTP basic authentication for every
// kmigrate HTTP server (mirror --http, status --serve, demo --http).
const (
	envHTTPUser     = "KMIGRATE_HTTP_USER"
	envHTTPPassword = "KMIGRATE_HTTP_PASSWORD"
)

// loopbackDefault binds an address without a host ("8080" or ":8080") to
// loopback: the dashboard needs no login by default, so it is reachable
// from other machines only when the user names a host (0.0.0.0:8080).
func loopbackDefault(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return net.JoinHostPort("127.0.0.1", addr)
	}
	if host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// addDashboard registers the dashboard for h (and the running mirror r,
// nil for status --serve) on mux, its reports made with o, and starts its
// recorder. The returned func waits for the recorder to stop once ctx has
// ended.
func addDashboard(ctx context.Context, mux *http.ServeMux, h *migration.Handle, r *migrate.Runner, o status.Options) (wait func()) {
	d := httpapi.NewDashboard(httpapi.DashboardFor(h, r, o))
	d.Register(mux)
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx, httpapi.DashboardEvery) })
	return wg.Wait
}

// serve serves mux on addr, behind basic authentication when the
// environment asks for it, and logs where.
func (e *env) serve(ctx context.Context, addr string, mux *http.ServeMux) (net.Addr, error) {
	user, _ := e.lookupEnv(envHTTPUser)
	password, _ := e.lookupEnv(envHTTPPassword)
	outer := mux
	if user != "" || password != "" {
		outer = http.NewServeMux()
		outer.Handle("/", httpapi.BasicAuth(mux, user, password))
	}
	a, err := httpapi.Serve(ctx, addr, outer, e.logger)
	if err != nil {
		return nil, usageError{err}
	}
	return a, nil
}

// serveStatus is status --serve: the dashboard, /v1/status, /v1/translate,
// /healthz and Go metrics for the migration cfg names, until ctx ends. It
// needs only the target (status.OpenTarget): without the source, the
// source's figures show as unknown.
func (e *env) serveStatus(ctx context.Context, addr string, cfg *config.Config, o status.Options) error {
	t, err := status.OpenTarget(ctx, cfg, e.logger)
	if err != nil {
		return err
	}
	defer t.Close()
	mux := http.NewServeMux()
	natives := o
	natives.Natives = groups.NewNativeCache()
	httpapi.Register(mux, httpapi.Sources{
		Stats:  func() (mirror.Stats, bool) { return mirror.Stats{}, false },
		Status: func(ctx context.Context) (any, error) { return status.MakeFrom(ctx, t.Clusters(), natives) },
	})
	d := httpapi.NewDashboard(httpapi.DashboardForTarget(t, o))
	d.Register(mux)
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx, httpapi.DashboardEvery) })
	defer wg.Wait()
	a, err := e.serve(ctx, loopbackDefault(addr), mux)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Dashboard of migration %s: http://%s/ (Ctrl-C to stop)\n", t.Name(), a)
	<-ctx.Done()
	return nil
}
