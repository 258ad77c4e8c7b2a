package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cli"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/status"
)

// serveStatus starts kmigrate status --serve with args and returns the
// migration name and address it printed, and a stop func that cancels it
// and returns its exit code.
func serveStatus(t *testing.T, args ...string) (name, addr string, stop func() int, stderr *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var out lockedBuffer
	stderr = new(lockedBuffer)
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, append([]string{"status", "--serve", ":0", "--log-level", "warn"}, args...), bytes.NewReader(nil), &out, stderr)
	}()
	stop = func() int { cancel(); return <-done }
	served := regexp.MustCompile(`^Dashboard of migration (\S+): http://(127\.0\.0\.1:\d+)/ \(Ctrl-C to stop\)\n$`)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := served.FindStringSubmatch(out.String()); m != nil {
			return m[1], m[2], stop, stderr
		}
		select {
		case code := <-done:
			t.Fatalf("status --serve exited %d: %q (stderr %q)", code, out.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("status --serve printed %q (stderr %q)", out.String(), stderr.String())
		}
	}
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// statusJSON is the part of /v1/status the tests check.
type statusJSON struct {
	Migration     string `json:"migration"`
	Phase         string `json:"phase"`
	Next          string `json:"next"`
	SourceUnknown string `json:"source_unknown"`
	Topics        []struct {
		Source          string  `json:"source"`
		State           string  `json:"state"`
		Lag             int64   `json:"lag"`
		LagSeconds      float64 `json:"lag_seconds"`
		SourceWriteRate float64 `json:"source_write_rate"`
		Producers       string  `json:"producers"`
		Partitions      []struct {
			Partition int32 `json:"partition"`
			SourceEnd int64 `json:"source_end"`
			Next      int64 `json:"next"`
			Lag       int64 `json:"lag"`
			TargetEnd int64 `json:"target_end"`
		} `json:"partitions"`
	} `json:"topics"`
}

// status --serve needs only the target: with a source that cannot be
// reached (a closed port), it finds the migration's state on the target,
// serves the page, /v1/status and /v1/dashboard from the target and the
// state, with the source's figures unknown (-1, "unknown"), and still
// translates positions.
func TestStatusServeWithoutSource(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	pair.Source.CreateTopic(t, "orders", 2, map[string]string{"retention.ms": "-1"})
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("a")},
		&kgo.Record{Topic: "orders", Partition: 0, Value: []byte("b")}, &kgo.Record{Topic: "orders", Partition: 1, Value: []byte("c")})
	if code, _, stderr := kmigrate(t, "mirror", "--source", src, "--target", tgt, "--until", "end", "-q", "--log-level", "warn"); code != 0 {
		t.Fatalf("mirror: exit %d\n%s", code, stderr)
	}
	_, full, _ := kmigrate(t, "status", "--source", src, "--target", tgt, "--sample", "0", "-o", "json")
	var want statusJSON
	if err := json.Unmarshal([]byte(full), &want); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, full)
	}

	closed := closedAddr(t)
	// kmigrate status itself, too, reports from the target alone.
	code, plain, errOut := kmigrate(t, "status", "--source", closed, "--target", tgt, "--connect-timeout", "2s", "--sample", "0", "-o", "json")
	var alone statusJSON
	if err := json.Unmarshal([]byte(plain), &alone); code != 0 || err != nil || alone.Migration != want.Migration || alone.SourceUnknown == "" || len(alone.Topics) != 1 || alone.Topics[0].Lag != -1 {
		t.Errorf("status without the source: exit %d, %v, %+v\n%s", code, err, alone, errOut)
	}
	name, addr, stop, stderr := serveStatus(t, "--source", closed, "--target", tgt, "--connect-timeout", "2s", "--sample", "0")
	if name != want.Migration {
		t.Errorf("served migration %q, want %q", name, want.Migration)
	}
	code, b := httpGet(t, "http://"+addr+"/v1/status")
	var got statusJSON
	if err := json.Unmarshal(b, &got); code != 200 || err != nil {
		t.Fatalf("/v1/status: %d %v %s", code, err, b)
	}
	if got.Migration != want.Migration || got.SourceUnknown == "" || got.Phase != "sync" || !strings.HasPrefix(got.Next, "read the source to know the next step") {
		t.Errorf("/v1/status migration %q source_unknown %q phase %q next %q", got.Migration, got.SourceUnknown, got.Phase, got.Next)
	}
	if len(got.Topics) != 1 {
		t.Fatalf("/v1/status topics %+v, want orders", got.Topics)
	}
	tp := got.Topics[0]
	if tp.Source != "orders" || tp.State != "mirroring" || tp.Lag != -1 || tp.LagSeconds != -1 || tp.SourceWriteRate != -1 || tp.Producers != "unknown" {
		t.Errorf("topic %+v, want orders mirroring with lag, lag time and source rate -1 and producers unknown", tp)
	}
	// The checkpoints and the target's ends are what the full report
	// shows (the target end counts the transaction markers too).
	wantNext := map[int32]int64{0: 2, 1: 1}
	if len(tp.Partitions) != 2 || len(want.Topics) != 1 || len(want.Topics[0].Partitions) != 2 {
		t.Fatalf("partitions %+v, want 2 as in %+v", tp.Partitions, want.Topics)
	}
	for i, p := range tp.Partitions {
		w := want.Topics[0].Partitions[i]
		if p.Partition != w.Partition || p.Next != wantNext[p.Partition] || w.Next != p.Next || p.TargetEnd != w.TargetEnd || p.TargetEnd <= p.Next || p.SourceEnd != -1 || p.Lag != -1 {
			t.Errorf("partition %+v, want next %d and target end %d (full report %+v), source end and lag -1", p, wantNext[p.Partition], w.TargetEnd, w)
		}
	}
	if code, page := httpGet(t, "http://"+addr+"/"); code != 200 || !bytes.Contains(page, []byte(`id="phase"`)) {
		t.Errorf("/: %d %.200s", code, page)
	}
	var view struct {
		Status *statusJSON `json:"status"`
		Error  string      `json:"error"`
	}
	for deadline := time.Now().Add(60 * time.Second); view.Status == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, b := httpGet(t, "http://"+addr+"/v1/dashboard")
		if err := json.Unmarshal(b, &view); code != 200 || err != nil {
			t.Fatalf("/v1/dashboard: %d %v %s", code, err, b)
		}
	}
	if view.Status == nil || view.Status.SourceUnknown == "" || len(view.Status.Topics) != 1 || view.Status.Topics[0].Lag != -1 {
		t.Errorf("/v1/dashboard status %+v (error %q), want orders with an unknown lag", view.Status, view.Error)
	}
	code, b = httpGet(t, "http://"+addr+"/v1/translate?topic=orders&partition=0&offset=1")
	if !bytes.Contains(b, []byte(`"kind": "exact"`)) || !bytes.Contains(b, []byte(`"to": 1`)) || code != 200 {
		t.Errorf("/v1/translate: %d %s", code, b)
	}
	if code := stop(); code != 0 {
		t.Errorf("status --serve exited %d after Ctrl-C: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "the source cannot be read from here") {
		t.Errorf("stderr %q, want the warning that the source cannot be read", stderr.String())
	}
}

// Without the source and without a name in the spec, status --serve finds
// the migration on the target only when the target holds exactly one: with
// none it says to run mirror first, with two it names them and asks for
// the spec's name, and with the name it serves that one.
func TestStatusServeWithoutSourceFindsTheMigration(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	pair.Source.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	pair.Source.Produce(t, &kgo.Record{Topic: "orders", Value: []byte("a")})
	closed := closedAddr(t)
	spec := func(name string) string {
		body := fmt.Sprintf("source: {bootstrap: %s}\ntarget: {bootstrap: %s}\ntopics: {include: [orders], prefix: %s.}\n", src, tgt, name)
		if name != "" {
			body = "name: " + name + "\n" + body
		}
		return write(t, t.TempDir(), "m.yaml", body)
	}
	noSource := []string{"status", "--serve", ":0", "--source", closed, "--target", tgt, "--connect-timeout", "2s", "--log-level", "error"}
	if code, _, stderr := kmigrate(t, noSource...); code != 1 || !strings.Contains(stderr, "no migration state on the target and the source cannot be read to name one: run kmigrate mirror first, or give the migration's name in the spec (name:)") {
		t.Errorf("no migration: exit %d, stderr %q", code, stderr)
	}
	for _, name := range []string{"alpha", "beta"} {
		if code, _, stderr := kmigrate(t, "mirror", "-f", spec(name), "--until", "end", "-q", "--log-level", "warn"); code != 0 {
			t.Fatalf("mirror %s: exit %d\n%s", name, code, stderr)
		}
	}
	if code, _, stderr := kmigrate(t, noSource...); code != 1 || !strings.Contains(stderr, "the target holds several migrations (alpha, beta) and the source cannot be read to tell which: give the migration's name in the spec (name:)") {
		t.Errorf("two migrations: exit %d, stderr %q", code, stderr)
	}
	named := write(t, t.TempDir(), "beta.yaml", fmt.Sprintf("name: beta\nsource: {bootstrap: %s}\ntarget: {bootstrap: %s}\n", closed, tgt))
	name, addr, stop, stderr := serveStatus(t, "-f", named, "--connect-timeout", "2s", "--sample", "0")
	code, b := httpGet(t, "http://"+addr+"/v1/status")
	var got statusJSON
	if err := json.Unmarshal(b, &got); name != "beta" || code != 200 || err != nil || got.Migration != "beta" || len(got.Topics) != 1 || got.Topics[0].Source != "orders" {
		t.Errorf("named: served %q, /v1/status %d %v %s", name, code, err, b)
	}
	if code := stop(); code != 0 {
		t.Errorf("status --serve exited %d: %s", code, stderr.String())
	}
}

// TestStatusShowsUnits: a migration mirrored in 3 work units by this
// process: status (JSON and text) names the units, the process that
// copied each, and the member with all three; lag 0 after --until end.
func TestStatusShowsUnits(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	pair.Source.CreateTopic(t, "orders", 6, map[string]string{"retention.ms": "-1"})
	var recs []*kgo.Record
	for i := range 60 {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 6), Value: fmt.Appendf(nil, "r%d", i)})
	}
	pair.Source.Produce(t, recs...)
	if code, _, stderr := kmigrate(t, "mirror", "--source", src, "--target", tgt, "--until", "end", "--units", "3", "-q", "--log-level", "warn"); code != 0 {
		t.Fatalf("mirror: exit %d\n%s", code, stderr)
	}
	code, out, errOut := kmigrate(t, "status", "--source", src, "--target", tgt, "--sample", "0", "-o", "json")
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("status -o json: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	host, _ := os.Hostname()
	self := fmt.Sprintf("%d@%s", os.Getpid(), host)
	if r.Mirror.Units != 3 || len(r.Mirror.UnitList) != 3 || len(r.Mirror.Members) != 1 {
		t.Fatalf("mirror %+v, want 3 units and one member", r.Mirror)
	}
	for i, u := range r.Mirror.UnitList {
		if u.Unit != i || u.Owner != self || u.Partitions != 2 || u.Lag != 0 {
			t.Errorf("unit %+v, want unit %d of %s with 2 partitions and lag 0", u, i, self)
		}
	}
	if mb := r.Mirror.Members[0]; mb.Owner != self || !slices.Equal(mb.Units, []int{0, 1, 2}) || mb.Lag != 0 {
		t.Errorf("member %+v, want %s with units 0, 1, 2 and lag 0", mb, self)
	}
	_, text, _ := kmigrate(t, "status", "--source", src, "--target", tgt, "--sample", "0")
	row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(self) + `\s+(not running|running)\s+0 1 2\s+0\s+0\.0\s+\S+$`)
	if !strings.Contains(text, "\nWork units: 3\n") || !row.MatchString(text) {
		t.Errorf("status text:\n%s\nwant 'Work units: 3' and a row for %s with units 0 1 2, lag 0", text, self)
	}
}
