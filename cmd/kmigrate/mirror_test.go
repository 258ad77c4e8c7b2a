package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// TestMirrorSurvivesKill9 kills `kmigrate mirror` with SIGKILL in the
// middle of transactions (records of the open transaction already in the
// target's log) during a copy and restarts it; the target must end
// identical to the source with no duplicate, and `kmigrate verify` must
// pass: the killed runs' aborted copies lie on the target before the
// copies that replaced them, several fetches deep, and are not data.
func TestMirrorSurvivesKill9(t *testing.T) {
	const records = 60000
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	seed(t, pair.Source, "crash", 6, records)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	// Small transactions, so that kills land between and inside many.
	spec := filepath.Join(t.TempDir(), "crash.yaml")
	if err := os.WriteFile(spec, []byte("mirror:\n  transaction_max_bytes: 1MiB\n  transaction_interval: 50ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := mirrorArgs(pair, "-f", spec, "--until", "end")
	progress := kadm.NewClient(pair.Target.Client(t, kgo.MetadataMinAge(10*time.Millisecond)))
	const kills = 5
	copied := 0 // committed copies on the target after the last kill
	for i := range kills {
		cmd := exec.Command(binary, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Kill once this run has committed copies and a transaction is
		// open with records in the log (the high watermark is past the
		// last stable offset), so that every kill lands in the middle of
		// the copy and of a transaction. Committed copies: the last
		// stable offset passes the whole log as the previous run left it
		// (its open transaction, which this run's start aborts, included)
		// and the abort markers, one per partition, that the start
		// writes. (Counting from the previous last stable offset let the
		// abort alone pass for progress: runs 2-5 were killed before
		// their first commit.)
		before := highWatermarks(t, progress, "crash")
		for {
			if stable := endOffsets(t, progress, "crash"); stable > before+6 && highWatermarks(t, progress, "crash") > stable {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("kill %d: the copy finished before the kill (err %v): the test needs more data\n%s", i, err, out.String())
			case <-time.After(time.Duration(rng.IntN(5)) * time.Millisecond):
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		_, n, dups := digest(t, pair.Target, "crash")
		t.Logf("after kill %d: %d records on the target", i+1, n)
		if len(dups) > 0 {
			t.Fatalf("after kill %d: duplicates on the target: %v", i+1, dups)
		}
		if n <= copied {
			t.Fatalf("after kill %d: %d records on the target, %d before this run: it was killed before it committed copies", i+1, n, copied)
		}
		copied = n
	}
	if out, errOut, code := run(t, args...); code != 0 {
		t.Fatalf("final run: exit %d\n%s%s", code, out, errOut)
	}
	sum, n, _ := digest(t, pair.Source, "crash")
	got, m, dups := digest(t, pair.Target, "crash")
	if n != records || m != n || got != sum || len(dups) > 0 {
		t.Fatalf("after %d kills: source %d records, target %d, digests equal %v, duplicates %v", kills, n, m, got == sum, dups)
	}
	// The killed transactions were aborted with their records in the
	// log: what verify must not read as copies.
	aborted := len(pair.Target.ConsumeAllUncommitted(t, "crash")) - m
	t.Logf("%d aborted copies on the target", aborted)
	if aborted <= 0 {
		t.Fatalf("no aborted copy on the target after %d kills: the test did not kill inside transactions", kills)
	}
	for _, sample := range []int{0, 50} {
		out, errOut, code := run(t, "verify", "--source", strings.Join(pair.Source.Addrs, ","), "--target", strings.Join(pair.Target.Addrs, ","),
			"--sample", fmt.Sprint(sample), "--output", "json", "--log-level", "warn")
		var rep verifyReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
			t.Fatalf("verify --sample %d after %d kills: exit %d, want 0 (%v)\nstdout:\n%s\nstderr:\n%s", sample, kills, code, err, firstLines(out, 40), errOut)
		}
		matched := int64(records)
		if sample > 0 {
			matched = 6 * int64(sample)
		}
		if !rep.OK || len(rep.Partitions) != 6 || rep.Totals.SourceRecords != records || rep.Totals.Matched != matched || rep.Totals.Problems != 0 {
			t.Errorf("verify --sample %d after %d kills: ok %v, %d partitions, totals %+v; want %d matched, no problem", sample, kills, rep.OK, len(rep.Partitions), rep.Totals, matched)
		}
	}
}

// highWatermarks sums a topic's high watermarks (records of open
// transactions included).
func highWatermarks(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += max(o.Offset, 0) })
	return sum
}

// firstLines cuts s after n lines.
func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "") + "...\n"
}

// TestMirrorFencesASecondProcess runs two continuous mirrors of one
// migration of one unit (--units 1: one transactional id, no units group);
// the earlier one is fenced and exits, and the target holds no duplicate.
// (Mirrors of a migration in several units share them instead:
// TestProcessesStartedTogether.) The second starts once the first has
// committed copies (its transactional producer holds the migration), not
// after a head start that a slow machine may not give it.
func TestMirrorFencesASecondProcess(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	seed(t, pair.Source, "fence", 3, 20000)
	adm := kadm.NewClient(pair.Target.Client(t))
	args := mirrorArgs(pair, "--units", "1")
	first := startMirror(t, args)
	waitFor(t, "the first mirror to commit copies", 30*time.Second, func() bool {
		select {
		case <-first.done:
			t.Fatalf("the first mirror exited before a second one ran: %v\n%s", first.err, first.out.String())
		default:
		}
		return endOffsets(t, adm, "fence") > 0
	})
	second := startMirror(t, args)
	if code := first.wait(t, 30*time.Second); code != 1 || !strings.Contains(first.out.String(), "fenced: another kmigrate process is running this migration") {
		t.Fatalf("first process: exit %d, want 1 with the fenced message:\n%s\nsecond:\n%s", code, first.out.String(), second.out.String())
	}
	// The survivor copies the rest (the target's committed end counts
	// the commit markers too, so wait for the copies themselves).
	waitFor(t, "the second mirror to copy every record", 30*time.Second, func() bool {
		_, n, _ := digest(t, pair.Target, "fence")
		return n == 20000
	})
	second.stop(t)
	sum, n, _ := digest(t, pair.Source, "fence")
	got, m, dups := digest(t, pair.Target, "fence")
	if m != n || got != sum || len(dups) > 0 {
		t.Fatalf("source %d records, target %d, digests equal %v, duplicates %v", n, m, got == sum, dups)
	}
}

// TestMirrorKcatRoundTrip: records written by kcat (keys, headers) are
// mirrored and read back identical by kcat from the target.
func TestMirrorKcatRoundTrip(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "kcat", 2, nil)
	src, tgt := kafkatest.NewKcat(t, pair.Source), kafkatest.NewKcat(t, pair.Target)
	str := func(s string) *string { return &s }
	var want []kafkatest.Message
	for p := range int32(2) {
		var msgs []kafkatest.Message
		for i := range 20 {
			m := kafkatest.Message{Topic: "kcat", Partition: p, Key: str(fmt.Sprintf("k-%d-%d", p, i)), Value: str(fmt.Sprintf("value %d of partition %d", i, p))}
			if i%2 == 0 {
				m.Headers = []kafkatest.Header{{Key: "trace-id", Value: str(fmt.Sprintf("t%d", i))}, {Key: "app", Value: str("kcat")}}
			}
			msgs = append(msgs, m)
		}
		if err := src.Produce(t.Context(), "kcat", p, msgs); err != nil {
			t.Fatal(err)
		}
		want = append(want, msgs...)
	}
	before := sourceSnapshot(t, pair.Source)
	if out, errOut, code := run(t, mirrorArgs(pair, "--until", "end")...); code != 0 {
		t.Fatalf("mirror exit %d\n%s%s", code, out, errOut)
	}
	if after := sourceSnapshot(t, pair.Source); after != before {
		t.Errorf("the source changed during mirroring:\nbefore %s\nafter  %s", before, after)
	}
	got, err := tgt.Consume(t.Context(), "kcat")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("kcat read %d records from the target, want %d", len(got), len(want))
	}
	byKey := map[string]kafkatest.Message{}
	for _, m := range got {
		byKey[*m.Key] = m
	}
	for _, w := range want {
		g, ok := byKey[*w.Key]
		if !ok {
			t.Errorf("key %s missing on the target", *w.Key)
			continue
		}
		var hs []kafkatest.Header
		for _, h := range g.Headers {
			if !trace.IsTracing(h.Key) {
				hs = append(hs, h)
			}
		}
		if g.Partition != w.Partition || *g.Value != *w.Value || fmt.Sprint(headerStrings(hs)) != fmt.Sprint(headerStrings(w.Headers)) {
			t.Errorf("key %s: target partition %d value %q headers %v, want %d %q %v", *w.Key, g.Partition, *g.Value, headerStrings(hs), w.Partition, *w.Value, headerStrings(w.Headers))
		}
	}
}

// sourceSnapshot describes what mirroring must never change on the source:
// its topics, their end offsets and its consumer groups.
func sourceSnapshot(t *testing.T, c *kafkatest.Cluster) string {
	t.Helper()
	adm := c.Admin(t)
	topics, err := adm.ListTopicsWithInternal(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(t.Context(), topics.Names()...)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := adm.ListGroups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range topics.Names() {
		fmt.Fprintf(&b, "%s:", name)
		for p := range int32(len(topics[name].Partitions)) {
			o, _ := ends.Lookup(name, p)
			fmt.Fprintf(&b, " %d", o.Offset)
		}
		b.WriteString("; ")
	}
	fmt.Fprintf(&b, "groups %v", groups.Groups())
	return b.String()
}

func headerStrings(hs []kafkatest.Header) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Key+"="+*h.Value)
	}
	return out
}

// TestMirrorRefusesConflictingTopic: a non-empty target topic that is not
// this migration's is refused, and nothing is written to either cluster.
func TestMirrorRefusesConflictingTopic(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	seed(t, pair.Source, "orders", 3, 30)
	seed(t, pair.Target, "orders", 3, 5)
	out, errOut, code := run(t, mirrorArgs(pair, "--until", "end")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	want := `topic "orders" -> "orders": the target topic already exists with up to 5 records and is not this migration's mirror: delete it, or choose other target names with topics.prefix (--topic-prefix) or topics.rename`
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, "nothing was written") {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	topics, err := pair.Target.Admin(t).ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if names := topics.Names(); len(names) != 1 || names[0] != "orders" {
		t.Errorf("target topics after the refusal: %v, want only orders (no state topic)", names)
	}
	if _, n, _ := digest(t, pair.Target, "orders"); n != 5 {
		t.Errorf("target orders has %d records, want the original 5", n)
	}
}
