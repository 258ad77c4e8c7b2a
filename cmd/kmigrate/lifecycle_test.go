package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// The issue-6 acceptance test: a whole migration driven through the
// binary, with live applications on both sides of every switch: a franz-go
// producer, a franz-go consumer group and a librdkafka
// (confluent-kafka-python) consumer group. Every record produced, before
// and after the switch, must be consumed by each group exactly once.

const (
	lcOrders    = "orders"    // 6 partitions
	lcCustomers = "customers" // compacted, 3 partitions
	lcFG        = "fg"        // the franz-go group
	lcPy        = "py"        // the confluent-kafka-python group
	lcPyBatch   = 200         // messages per Python consumer run
	lcQuiet     = "2s"        // --quiet-period of status and promote
)

var lcTopics = []string{lcOrders, lcCustomers}

// TestLifecycle walks a live migration with the binary: mirror, a refused
// promotion while producers write to the source and the groups have not
// moved, the consumer groups moved (groups migrate), the producer moved, a
// refused promotion while the mirror lags, a forced promotion (with its
// warning), the promotion of the rest once the source is quiet, the mirror
// ending by itself, and verify. Each group must have consumed, on the
// source and then on the target, every record the producer wrote on
// either cluster exactly once.
func TestLifecycle(t *testing.T) {
	kafkatest.RequireClient(t, kafkatest.ClientPython)
	begin := time.Now()
	step := func(format string, args ...any) {
		t.Logf("[%5.1fs] %s", time.Since(begin).Seconds(), fmt.Sprintf(format, args...))
	}
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, lcOrders, 6, map[string]string{"retention.ms": "-1"})
	pair.Source.CreateTopic(t, lcCustomers, 3, map[string]string{"retention.ms": "-1", "cleanup.policy": "compact"})
	lc := &lifecycle{pair: pair}
	spec := filepath.Join(t.TempDir(), "lifecycle.yaml")
	if err := os.WriteFile(spec, []byte("mirror:\n  transaction_interval: 100ms\ngroups:\n  sync_interval: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePortBase(t, 1))
	mirrorCmd := mirrorArgs(pair, "-f", spec, "--log-level", "info", "--http", httpAddr)

	// 1. The applications on the source.
	produced, fgGot, pyGot := newLCLedger(), newLCLedger(), newLCLedger()
	var seq atomic.Int64
	prod := startLCProducer(t, pair.Source, &seq, produced)
	fg := startLCConsumer(t, pair.Source, fgGot)
	pySource := kafkatest.NewPython(t, pair.Source)
	pyTarget := kafkatest.NewPython(t, pair.Target)
	pyLoop := startLCPython(t, pySource, "source", pyGot)
	step("applications started on the source")

	// 2. The mirror, until it keeps up with the producer.
	mirror := startLCMirror(t, mirrorCmd)
	lc.waitStatus(t, "the mirror to catch up with the live producer", 60*time.Second, func(s lcStatus) bool {
		return len(s.Topics) == 2 && s.Mirror.Running && s.topic(lcOrders).LagSeconds < 1.5 && s.topic(lcCustomers).LagSeconds < 1.5
	})
	step("the mirror caught up: %d records produced so far", produced.total())

	// Both groups have committed offsets for both topics on the source, so
	// that promote must name them.
	waitForLC(t, "both groups to consume both topics on the source", 60*time.Second, func() bool {
		return fgGot.topics("source") == 2 && pyGot.topics("source") == 2
	})

	// 3. Promote refuses: the producer writes to the source, the groups
	// are still there. Nothing is recorded.
	out, errOut, code := run(t, lc.args("promote", "--topic", lcOrders, "--quiet-period", lcQuiet, "--sample", "500ms")...)
	if code != 1 || out != "" {
		t.Fatalf("promote while the producer writes to the source: exit %d, want 1 and no output\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"kmigrate: promotion preconditions are not met; nothing was promoted:\n",
		`- topic "orders": producers still write to the source (`,
		`- topic "orders": consumer group "fg" has not moved to the target: stop it on the source, run kmigrate groups migrate --group fg, and start it on the target` + "\n",
		`- topic "orders": consumer group "py" has not moved to the target: stop it on the source, run kmigrate groups migrate --group py, and start it on the target` + "\n",
		"(--force promotes anyway)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("promote while the producer writes to the source: stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, `topic "customers"`) {
		t.Errorf("promote --topic orders judged customers too:\n%s", errOut)
	}
	s := lc.status(t, "0")
	if s.Phase != "sync" || len(s.History) != 0 || s.topic(lcOrders).Promoted != nil || s.topic(lcCustomers).Promoted != nil {
		t.Errorf("after the refused promotion: phase %q, history %+v, want sync and nothing recorded", s.Phase, s.History)
	}
	step("promote refused while the producer writes to the source and the groups have not moved")

	// 4. The consumer groups move: stopped on the source (fg after its
	// last commit, py between two runs), migrated, started on the target.
	fg.halt(t)
	pyLoop.halt(t)
	out, errOut, code = run(t, groupArgs(pair, "migrate", "--group", lcFG, "--group", lcPy)...)
	if code != 0 {
		t.Fatalf("groups migrate: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	rep := parseReport(t, out)
	if rep.Direction != "source-to-target" || !rep.OK || len(rep.Groups) != 2 {
		t.Fatalf("groups migrate: report %s", out)
	}
	for _, g := range rep.Groups {
		kinds := map[string]int{}
		for _, p := range g.Partitions {
			kinds[p.Kind]++
		}
		if g.Method != "exact" || g.Error != "" || len(g.Partitions) == 0 || len(g.Unmirrored) > 0 {
			t.Errorf("groups migrate: group %s: method %q, error %q, %d partitions, unmirrored %v", g.Group, g.Method, g.Error, len(g.Partitions), g.Unmirrored)
		}
		step("group %s migrated: %d partitions %v, %d committed", g.Group, len(g.Partitions), kinds, g.Committed)
	}
	fg = startLCConsumer(t, pair.Target, fgGot)
	pyLoop = startLCPython(t, pyTarget, "target", pyGot)

	// 5. The producer moves, with the same sequence and ledger.
	srcProd := prod
	srcProd.halt(t)
	prod = startLCProducer(t, pair.Target, &seq, produced)
	step("consumers and producer switched to the target: %d records produced on the source", produced.count("source"))

	// The mirror copies the rest of the source.
	s = lc.waitStatus(t, "the mirror to copy the last source records", 60*time.Second, func(s lcStatus) bool {
		return s.topic(lcOrders).Lag == 0 && s.topic(lcCustomers).Lag == 0
	})
	if s.Phase != "consumers" || len(s.Groups) != 2 || !s.Groups[0].Switched || !s.Groups[1].Switched {
		t.Errorf("status after the switch: phase %q, groups %+v; want consumers, fg and py switched", s.Phase, s.Groups)
	}

	// 6. The mirror stops; a last record on the source: promote refuses
	// on the lag. --force promotes customers with a warning: its unmet
	// precondition is its source producer's last write, within the
	// --quiet-period of 1m given here (forcing over a lag would leave
	// source records uncopied, which the exactly-once check below
	// forbids).
	mirror.stop(t)
	late := &kgo.Record{Topic: lcOrders, Key: fmt.Appendf(nil, "k-%d", seq.Add(1))}
	late.Value = fmt.Appendf(nil, "%s-%s", lcOrders, late.Key[2:])
	pair.Source.Produce(t, late)
	produced.add(lcOrders, string(late.Value), "source")
	step("mirror stopped; one more record on the source: %s/%d@%d", late.Topic, late.Partition, late.Offset)

	out, errOut, code = run(t, lc.args("promote", "--quiet-period", lcQuiet, "--sample", "500ms")...)
	if code != 1 || out != "" || !strings.Contains(errOut, "kmigrate: promotion preconditions are not met; nothing was promoted:\n") ||
		!strings.Contains(errOut, `- topic "orders": replication lag is 1 records (`) || strings.Contains(errOut, "has not moved") {
		t.Fatalf("promote while the mirror lags: exit %d, want 1 naming the lag of 1 record of orders (and no group)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lastCustomers := srcProd.lastWrite(lcCustomers)
	out, errOut, code = run(t, lc.args("promote", "--force", "--topic", lcCustomers, "--quiet-period", "1m", "--sample", "500ms")...)
	wantForced := "Promoted: customers\n" +
		"WARNING: promoted with unmet preconditions (--force):\n" +
		fmt.Sprintf("- topic \"customers\": producers still write to the source (0.0 records/s, last write %s): move them to the target and wait for the source to be quiet for 1m0s\n", lastCustomers.UTC().Format(time.RFC3339)) +
		"Phase: promote\n"
	if code != 0 || out != wantForced || !strings.Contains(errOut, "promoted with unmet preconditions (--force)") {
		t.Fatalf("promote --force --topic customers: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0, the stdout\n%s\nand the warning logged", code, out, errOut, wantForced)
	}
	step("promote refused on the lag; customers promoted with --force")

	// 7. The mirror again: it copies the last record of orders (it no
	// longer mirrors the promoted customers).
	mirror = startLCMirror(t, mirrorCmd)
	lc.waitStatus(t, "the restarted mirror to copy the last source record", 60*time.Second, func(s lcStatus) bool {
		return s.Mirror.Running && s.topic(lcOrders).Lag == 0
	})
	step("the restarted mirror copied the last source record")
	// The mirror serves the same report as kmigrate status.
	if s := getLCStatus(t, httpAddr); s.Phase != "promote" || s.topic(lcCustomers).State != "promoted" || s.topic(lcOrders).State != "caught-up" {
		t.Errorf("GET /v1/status of the restarted mirror: phase %q, topics %+v; want promote, customers promoted, orders caught-up", s.Phase, s.Topics)
	}
	s = lc.waitStatusSampled(t, "the source to be quiet", 60*time.Second, func(s lcStatus) bool {
		return s.topic(lcOrders).Producers == "target"
	})
	step("orders caught up, its producers on the target")

	// 8. Promote the rest: no --force needed. The mirror ends by itself.
	out, errOut, code = run(t, lc.args("promote", "--quiet-period", lcQuiet, "--sample", "500ms")...)
	if want := "Promoted: orders\nAlready promoted: customers\nPhase: done\n"; code != 0 || out != want {
		t.Fatalf("promote: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0 and\n%s", code, out, errOut, want)
	}
	s = lc.status(t, "0")
	var promotes []string
	for _, ev := range s.History {
		if ev.Action == "promote" {
			promotes = append(promotes, ev.Detail)
		}
	}
	if s.Phase != "done" || s.topic(lcOrders).State != "promoted" || s.topic(lcCustomers).State != "promoted" || len(promotes) != 2 ||
		!strings.HasPrefix(promotes[0], `customers (forced: topic "customers": producers still write to the source`) || promotes[1] != "orders" {
		t.Errorf("status after promoting every topic: phase %q, topics %+v, promote events %q", s.Phase, s.Topics, promotes)
	}
	if code := mirror.wait(t, 30*time.Second); code != 0 {
		t.Errorf("the mirror exited with %d once every topic was promoted, want 0\n%s", code, mirror.out.String())
	}
	step("orders promoted: phase done; the mirror exited by itself")

	// 9. The producer stops; the groups read to the end on the target.
	prod.halt(t)
	// Missing records show in the comparison below.
	if !lcEventually(60*time.Second, func() bool { return fgGot.total() >= produced.total() }) {
		t.Errorf("fg consumed %d of the %d records produced within 60s", fgGot.total(), produced.total())
	}
	fg.halt(t)
	pyLoop.halt(t)
	for i := 0; ; i++ {
		msgs := pyConsume(t, pyTarget, 0)
		pyGot.addMessages(msgs, "target")
		if len(msgs) == 0 {
			break
		}
		if i == 3 {
			t.Fatalf("py still receives records after %d runs to the end", i+1)
		}
	}
	step("the groups read to the end")

	// 10. Each group consumed every record exactly once.
	t.Logf("produced %d records: %d on the source, %d on the target", produced.total(), produced.count("source"), produced.count("target"))
	for _, g := range []struct {
		name string
		got  *lcLedger
	}{{lcFG, fgGot}, {lcPy, pyGot}} {
		t.Logf("group %s consumed %d records: %d on the source, %d on the target", g.name, g.got.total(), g.got.count("source"), g.got.count("target"))
		missing, dups, unknown := produced.diff(g.got)
		for what, list := range map[string][]string{"never consumed": missing, "consumed more than once": dups, "consumed but never produced": unknown} {
			if len(list) > 0 {
				t.Errorf("group %s: %d records %s: %s", g.name, len(list), what, strings.Join(list[:min(len(list), 10)], ", "))
			}
		}
	}

	// 11. verify: every source record is on the target exactly once.
	if _, _, code := run(t, "verify", "--help"); code == 0 {
		out, errOut, code := run(t, lc.args("verify", "--output", "json")...)
		var v verifyReport
		if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 || !v.OK || v.Totals.Problems != 0 ||
			v.Totals.SourceRecords != int64(produced.count("source")) || v.Totals.Matched != v.Totals.SourceRecords {
			t.Errorf("verify: exit %d (%v), ok %v, totals %+v; want 0, ok, %d source records all matched\nstderr:\n%s",
				code, err, v.OK, v.Totals, produced.count("source"), errOut)
		}
	}
	step("done")
}

// TestMirrorServesNewStatus: the continuous mirror of a new migration
// serves GET /v1/status as soon as its state is on the target, that is as
// soon as kmigrate status, run from another process, reads it; not "the
// migration has no state on the target: run kmigrate mirror first" from
// the very mirror that wrote it.
func TestMirrorServesNewStatus(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	seed(t, pair.Source, "orders", 3, 30)
	addr := fmt.Sprintf("127.0.0.1:%d", freePortBase(t, 1))
	m := startLCMirror(t, mirrorArgs(pair, "--http", addr))
	lc := &lifecycle{pair: pair}
	lc.waitStatus(t, "the new migration's state on the target", 30*time.Second, func(s lcStatus) bool {
		return len(s.Topics) == 1 && s.topic("orders").Lag == 0
	})
	if code, body := getLC(t, addr, "/v1/status"); code != http.StatusOK {
		t.Errorf("GET /v1/status of the running mirror, once kmigrate status reads the state: %d, want 200\n%s", code, body)
	}
	m.stop(t)
}

// lifecycle holds what the commands of the test share.
type lifecycle struct {
	pair *kafkatest.Pair
}

// args are a kmigrate command line against the pair.
func (lc *lifecycle) args(cmd ...string) []string {
	return append(cmd, "--source", strings.Join(lc.pair.Source.Addrs, ","), "--target", strings.Join(lc.pair.Target.Addrs, ","), "--log-level", "warn")
}

// lcStatus is the part of `kmigrate status --output json` the test reads.
type lcStatus struct {
	Phase    string   `json:"phase"`
	Next     string   `json:"next"`
	Blockers []string `json:"blockers"`
	Mirror   struct {
		Running bool `json:"running"`
	} `json:"mirror"`
	Topics []lcStatusTopic `json:"topics"`
	Groups []struct {
		Group       string `json:"group"`
		Switched    bool   `json:"switched"`
		SwitchedHow string `json:"switched_how"`
	} `json:"groups"`
	History []struct {
		Action string `json:"action"`
		Detail string `json:"detail"`
	} `json:"history"`
}

type lcStatusTopic struct {
	Source     string     `json:"source"`
	State      string     `json:"state"`
	Promoted   *time.Time `json:"promoted"`
	Lag        int64      `json:"lag"`
	LagSeconds float64    `json:"lag_seconds"`
	Producers  string     `json:"producers"`
}

// topic returns the status of a source topic; a missing one has lag -1.
func (s lcStatus) topic(name string) lcStatusTopic {
	for _, t := range s.Topics {
		if t.Source == name {
			return t
		}
	}
	return lcStatusTopic{Source: name, Lag: -1, LagSeconds: 1e9}
}

// status runs `kmigrate status --output json` with the given --sample.
func (lc *lifecycle) status(t *testing.T, sample string) lcStatus {
	t.Helper()
	s, err := lc.tryStatus(t, sample)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (lc *lifecycle) tryStatus(t *testing.T, sample string) (lcStatus, error) {
	t.Helper()
	out, errOut, code := run(t, lc.args("status", "--output", "json", "--quiet-period", lcQuiet, "--sample", sample)...)
	var s lcStatus
	if code != 0 {
		return s, fmt.Errorf("status: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return s, fmt.Errorf("status: %v\n%s", err, out)
	}
	return s, nil
}

// getLCStatus reads GET /v1/status of a mirror's --http server.
func getLCStatus(t *testing.T, addr string) lcStatus {
	t.Helper()
	code, body := getLC(t, addr, "/v1/status")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/status: %d\n%s", code, body)
	}
	var s lcStatus
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("GET /v1/status: %v\n%s", err, body)
	}
	return s
}

func getLC(t *testing.T, addr, path string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

// waitStatus polls the status (without rate sampling) until cond holds.
func (lc *lifecycle) waitStatus(t *testing.T, what string, limit time.Duration, cond func(lcStatus) bool) lcStatus {
	t.Helper()
	return lc.poll(t, "0", what, limit, cond)
}

// waitStatusSampled is waitStatus with write rates sampled over 500ms.
func (lc *lifecycle) waitStatusSampled(t *testing.T, what string, limit time.Duration, cond func(lcStatus) bool) lcStatus {
	t.Helper()
	return lc.poll(t, "500ms", what, limit, cond)
}

func (lc *lifecycle) poll(t *testing.T, sample, what string, limit time.Duration, cond func(lcStatus) bool) lcStatus {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last lcStatus
	var lastErr error
	for {
		s, err := lc.tryStatus(t, sample)
		if err == nil && cond(s) {
			return s
		}
		last, lastErr = s, err
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(last, "", "  ")
			t.Fatalf("timed out after %v waiting for %s; last status (error %v):\n%s", limit, what, lastErr, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitForLC(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	if !lcEventually(limit, cond) {
		t.Fatalf("timed out after %v waiting for %s", limit, what)
	}
}

// lcEventually polls cond until it holds (true) or limit passes (false).
func lcEventually(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// lcRecord is a record as the applications identify it.
type lcRecord struct{ topic, value string }

// lcLedger counts records by topic and value, and by cluster.
type lcLedger struct {
	mu    sync.Mutex
	n     map[lcRecord]int
	where map[string]int
	seen  map[string]map[string]bool // cluster -> topics
}

func newLCLedger() *lcLedger {
	return &lcLedger{n: map[lcRecord]int{}, where: map[string]int{}, seen: map[string]map[string]bool{}}
}

func (l *lcLedger) add(topic, value, where string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[lcRecord{topic, value}]++
	l.where[where]++
	if l.seen[where] == nil {
		l.seen[where] = map[string]bool{}
	}
	l.seen[where][topic] = true
}

func (l *lcLedger) addMessages(msgs []kafkatest.Message, where string) {
	for _, m := range msgs {
		v := "<null>"
		if m.Value != nil {
			v = *m.Value
		}
		l.add(m.Topic, v, where)
	}
}

func (l *lcLedger) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.where {
		n += c
	}
	return n
}

func (l *lcLedger) count(where string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.where[where]
}

// topics is how many topics have records from the cluster.
func (l *lcLedger) topics(where string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen[where])
}

// diff compares what was consumed with l, what was produced: records
// never consumed, consumed more than once, consumed but never produced.
func (l *lcLedger) diff(consumed *lcLedger) (missing, dups, unknown []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	consumed.mu.Lock()
	defer consumed.mu.Unlock()
	for _, r := range slices.SortedFunc(maps.Keys(l.n), compareLCRecord) {
		switch c := consumed.n[r]; {
		case c == 0:
			missing = append(missing, r.topic+" "+r.value)
		case c > l.n[r]:
			dups = append(dups, fmt.Sprintf("%s %s (%d times)", r.topic, r.value, c))
		}
	}
	for _, r := range slices.SortedFunc(maps.Keys(consumed.n), compareLCRecord) {
		if l.n[r] == 0 {
			unknown = append(unknown, fmt.Sprintf("%s %s (%d times)", r.topic, r.value, consumed.n[r]))
		}
	}
	return missing, dups, unknown
}

func compareLCRecord(a, b lcRecord) int {
	return strings.Compare(a.topic+"\x00"+a.value, b.topic+"\x00"+b.value)
}

// lcProducer is the producing application: every few milliseconds one
// record to each topic, keyed and valued by a sequence number shared by
// its incarnations (unique keys: compaction keeps every record).
type lcProducer struct {
	stop   chan struct{}
	done   chan error
	halted bool
	where  string
	mu     sync.Mutex
	last   map[string]time.Time // topic -> timestamp of the newest record written
}

func startLCProducer(t *testing.T, c *kafkatest.Cluster, seq *atomic.Int64, produced *lcLedger) *lcProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	p := &lcProducer{stop: make(chan struct{}), done: make(chan error, 1), where: c.Config.Role, last: map[string]time.Time{}}
	go func() {
		defer cl.Close()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				p.done <- nil
				return
			case <-tick.C:
			}
			var rs []*kgo.Record
			for _, topic := range lcTopics {
				n := seq.Add(1)
				rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k-%d", n), Value: fmt.Appendf(nil, "%s-%d", topic, n)})
			}
			// Never cancelled: a record is in the ledger if and only if
			// it was written.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := cl.ProduceSync(ctx, rs...).FirstErr()
			cancel()
			if err != nil {
				p.done <- fmt.Errorf("producer on the %s: %w", p.where, err)
				return
			}
			p.mu.Lock()
			for _, r := range rs {
				produced.add(r.Topic, string(r.Value), p.where)
				p.last[r.Topic] = r.Timestamp
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if !p.halted {
			close(p.stop)
			<-p.done
		}
	})
	return p
}

// halt stops the producer after its current write.
func (p *lcProducer) halt(t *testing.T) {
	t.Helper()
	if p.halted {
		return
	}
	p.halted = true
	close(p.stop)
	if err := <-p.done; err != nil {
		t.Fatal(err)
	}
}

func (p *lcProducer) lastWrite(topic string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last[topic]
}

// lcConsumer is the franz-go consuming application: a group member that
// processes each poll, then commits it, so that a clean stop leaves the
// committed offsets exactly after what it processed.
type lcConsumer struct {
	cancel context.CancelFunc
	done   chan error
	halted bool
}

func startLCConsumer(t *testing.T, c *kafkatest.Cluster, consumed *lcLedger) *lcConsumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs...), kgo.ConsumerGroup(lcFG), kgo.ConsumeTopics(lcTopics...),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	where := c.Config.Role
	ctx, cancel := context.WithCancel(context.Background())
	fc := &lcConsumer{cancel: cancel, done: make(chan error, 1)}
	go func() {
		var ferr error
		for {
			fs := cl.PollFetches(ctx)
			// Records returned are processed even when the poll ended
			// because of the stop: they count as polled for the commit.
			fs.EachRecord(func(r *kgo.Record) { consumed.add(r.Topic, string(r.Value), where) })
			fs.EachError(func(topic string, p int32, err error) {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
					ferr = errors.Join(ferr, fmt.Errorf("fg on the %s: %s/%d: %w", where, topic, p, err))
				}
			})
			if err := cl.CommitUncommittedOffsets(context.WithoutCancel(ctx)); err != nil {
				ferr = errors.Join(ferr, fmt.Errorf("fg on the %s: commit: %w", where, err))
			}
			if ctx.Err() != nil || ferr != nil {
				cl.Close() // leaves the group
				fc.done <- ferr
				return
			}
		}
	}()
	t.Cleanup(func() {
		if !fc.halted {
			cancel()
			<-fc.done
		}
	})
	return fc
}

// halt stops the consumer after its last poll is processed and committed,
// and leaves the group.
func (c *lcConsumer) halt(t *testing.T) {
	t.Helper()
	if c.halted {
		return
	}
	c.halted = true
	c.cancel()
	if err := <-c.done; err != nil {
		t.Fatal(err)
	}
}

// lcPython runs the Python group's application again and again, lcPyBatch
// messages at a time; between runs the group has no member.
type lcPython struct {
	stop   chan struct{}
	done   chan error
	halted bool
}

func startLCPython(t *testing.T, py *kafkatest.Python, where string, consumed *lcLedger) *lcPython {
	t.Helper()
	p := &lcPython{stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		for {
			select {
			case <-p.stop:
				p.done <- nil
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			msgs, err := py.ConsumeGroup(ctx, lcPy, lcTopics, lcPyBatch)
			cancel()
			if err != nil {
				p.done <- fmt.Errorf("py on the %s: %w", where, err)
				return
			}
			consumed.addMessages(msgs, where)
			if len(msgs) < lcPyBatch {
				time.Sleep(100 * time.Millisecond) // at the end of every partition
			}
		}
	}()
	t.Cleanup(func() {
		if !p.halted {
			close(p.stop)
			<-p.done
		}
	})
	return p
}

// halt stops the loop after the current run, which commits.
func (p *lcPython) halt(t *testing.T) {
	t.Helper()
	if p.halted {
		return
	}
	p.halted = true
	close(p.stop)
	if err := <-p.done; err != nil {
		t.Fatal(err)
	}
}

func pyConsume(t *testing.T, py *kafkatest.Python, max int) []kafkatest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	msgs, err := py.ConsumeGroup(ctx, lcPy, lcTopics, max)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// lcMirror is a running `kmigrate mirror` (continuous).
type lcMirror struct {
	cmd  *exec.Cmd
	out  *lcBuffer
	done chan struct{}
	err  error
}

// lcBuffer is an io.Writer the test reads while a process writes it.
type lcBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lcBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lcBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startLCMirror(t *testing.T, args []string) *lcMirror {
	t.Helper()
	m := &lcMirror{cmd: exec.Command(binary, args...), out: new(lcBuffer), done: make(chan struct{})}
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.err = m.cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			m.cmd.Process.Kill()
			<-m.done
		}
		if t.Failed() {
			t.Logf("kmigrate mirror output:\n%s", m.out.String())
		}
	})
	return m
}

// wait waits for the mirror to exit by itself and returns its exit code.
func (m *lcMirror) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-m.done:
		return exitCode(m.err)
	case <-time.After(limit):
		t.Fatalf("the mirror did not exit within %v\n%s", limit, m.out.String())
		return -1
	}
}

// stop interrupts the mirror (Ctrl-C), which commits and exits 0.
func (m *lcMirror) stop(t *testing.T) {
	t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := m.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("the mirror exited with %d after SIGINT, want 0\n%s", code, m.out.String())
	}
}
