package gatewayhttp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/gateway/gatewayhttp"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHandlers: status lists the routes; a promotion of an unknown topic
// is 404; one that cannot drain (no mirror runs, so the lag stays) is
// undone and answered 503 with the reason, and the route stays source.
func TestHandlers(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, nil)
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Value: []byte("x")})
	if _, err := state.Ensure(t.Context(), pair.Target.Admin(t), state.TopicName("m1"), -1); err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(gateway.Options{
		Listen: "127.0.0.1:0", Source: &pair.Source.Config, Target: &pair.Target.Config,
		Migration: "m1", Topics: []gateway.Topic{{Source: "orders", Target: "orders"}},
		SwitchTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = gw.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })

	mux := http.NewServeMux()
	gatewayhttp.Register(mux, gw)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	code, body := call(t, http.MethodPost, srv.URL+"/v1/gateway/promote/payments")
	if code != http.StatusNotFound || !strings.Contains(body, "not served") {
		t.Errorf("promote payments: %d %s", code, body)
	}
	code, body = call(t, http.MethodPost, srv.URL+"/v1/gateway/promote/orders")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "switch aborted") {
		t.Errorf("promote orders without a mirror: %d %s", code, body)
	}
	code, body = call(t, http.MethodGet, srv.URL+"/v1/gateway")
	var st gatewayhttp.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != http.StatusOK {
		t.Fatalf("status: %d %s (%v)", code, body, err)
	}
	if st.Routes["orders"] != "source" || len(st.Routes) != 1 || st.Aborted["orders"] != 1 || st.StateRead == nil || st.StateError != "" {
		t.Errorf("status %+v", st)
	}
	code, body = call(t, http.MethodGet, srv.URL+"/metrics")
	for _, want := range []string{
		`kmigrate_gateway_topic_route{route="source",topic="orders"} 1`,
		`kmigrate_gateway_switches_aborted_total{topic="orders"} 1`,
		`kmigrate_gateway_records_total{cluster="target"} 0`,
		`kmigrate_gateway_state_ok 1`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("metrics (%d) lack %s:\n%s", code, want, body)
		}
	}
	code, body = call(t, http.MethodGet, srv.URL+"/debug/pprof/")
	if code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index: %d %.200s", code, body)
	}
}

func call(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
