package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	pyLoop := startLCPython(t, pySource, "source", produced, pyGot)
	step("applications started on the source")

	// 2. The mirror, until it keeps up with the producer.
	mirror := startMirror(t, mirrorCmd)
	lc.waitStatus(t, "the mirror to catch up with the live producer", 60*time.Second, func(s lcStatus) bool {
		return len(s.Topics) == 2 && s.Mirror.Running && s.topic(lcOrders).LagSeconds < 1.5 && s.topic(lcCustomers).LagSeconds < 1.5
	})
	step("the mirror caught up: %d records produced so far", produced.total())

	// Both groups have committed offsets for both topics on the source, so
	// that promote must name them.
	waitFor(t, "both groups to consume both topics on the source", 60*time.Second, func() bool {
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
	pyLoop = startLCPython(t, pyTarget, "target", produced, pyGot)

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
	mirror = startMirror(t, mirrorCmd)
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
	if !eventually(60*time.Second, func() bool { return fgGot.total() >= produced.total() }) {
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
