package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cli"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// lockedBuffer is a bytes.Buffer safe to read while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// status --serve serves the dashboard read-only on loopback, behind basic
// authentication when KMIGRATE_HTTP_USER/PASSWORD are set, until its
// context ends (Ctrl-C), then exits 0.
func TestStatusServe(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Value: []byte("a")}, &kgo.Record{Topic: "orders", Value: []byte("b")})
	if code, _, stderr := kmigrate(t, "mirror", "--source", src, "--target", tgt, "--until", "end", "-q", "--log-level", "warn"); code != 0 {
		t.Fatalf("mirror: exit %d\n%s", code, stderr)
	}
	t.Setenv("KMIGRATE_HTTP_USER", "ops")
	t.Setenv("KMIGRATE_HTTP_PASSWORD", "s3cret")
	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"status", "--source", src, "--target", tgt, "--serve", ":0", "--sample", "0", "--log-level", "warn"}, bytes.NewReader(nil), &out, &errOut)
	}()
	served := regexp.MustCompile(`^Dashboard of migration (\S+): http://(127\.0\.0\.1:\d+)/ \(Ctrl-C to stop\)\n$`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; {
		if m = served.FindStringSubmatch(out.String()); m == nil {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("status --serve printed %q (stderr %q)", out.String(), errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	get := func(path string, auth bool) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+m[2]+path, nil)
		if auth {
			req.SetBasicAuth("ops", "s3cret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get("/", false); code != http.StatusUnauthorized {
		t.Errorf("/ without a login: %d, want 401", code)
	}
	// The first report may still be on its way: wait for it.
	var view struct {
		Status *struct {
			Migration string
			Topics    []struct{ Source string }
		}
	}
	for deadline := time.Now().Add(30 * time.Second); view.Status == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, b := get("/v1/dashboard", true)
		if err := json.Unmarshal(b, &view); code != 200 || err != nil {
			t.Fatalf("/v1/dashboard: %d %v %s", code, err, b)
		}
	}
	if view.Status == nil || view.Status.Migration != m[1] || len(view.Status.Topics) != 1 || view.Status.Topics[0].Source != "orders" {
		t.Errorf("/v1/dashboard status %+v, want migration %s with orders", view.Status, m[1])
	}
	code, b := get("/v1/translate?topic=orders&partition=0&offset=1", true)
	if want := `"kind": "exact"`; code != 200 || !bytes.Contains(b, []byte(want)) {
		t.Errorf("/v1/translate: %d %s", code, b)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("status --serve exited %d after Ctrl-C: %s", code, errOut.String())
	}
}
