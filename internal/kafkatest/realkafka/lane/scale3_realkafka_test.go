package lane_test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// The acceptance tests of issue 13 (work units across processes) on real
// Kafka: processes join and leave while a third-party producer (kcat)
// writes, a paused process is fenced, and the once-per-migration leader
// work runs on one member at a time. Their timeline comes from the
// processes' own info logs ("work units assigned/revoked/lost", "leader
// work started/stopped", package membership and migrate/member.go).

// unitProc is one `kmigrate mirror --units N` process of a test.
type unitProc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error

	mu     sync.Mutex
	ended  time.Time // when the test saw it exit or killed it
	signal string
}

// startUnitProc starts a mirror process named name; it is killed when the
// test ends.
func startUnitProc(t *testing.T, name string, args []string) *unitProc {
	t.Helper()
	p := &unitProc{name: name, out: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
	})
	return p
}

// kill9 kills the process and waits for it.
func (p *unitProc) kill9(t *testing.T) {
	t.Helper()
	p.setEnded("SIGKILL")
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term stops the process with SIGTERM and fails the test unless it exits 0.
func (p *unitProc) term(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.setEnded("SIGTERM")
		if err != nil {
			t.Fatalf("%s after SIGTERM: %v\n%s", p.name, err, p.out.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s did not exit within 2 minutes of SIGTERM\n%s", p.name, p.out.String())
	}
}

func (p *unitProc) setEnded(how string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended, p.signal = time.Now(), how
}

func (p *unitProc) endedAt() (time.Time, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended, p.signal
}

// unitEvent is one line of a process's log that the timeline keeps.
type unitEvent struct {
	at    time.Time
	proc  string
	kind  string // assigned, revoked, lost, leader started, leader stopped, SIGKILL, SIGTERM
	units []int
}

var (
	unitLine   = regexp.MustCompile(`time=(\S+) level=\w+ msg="work units (assigned|revoked|lost)".* units="?\[([0-9 ]*)\]`)
	leaderLine = regexp.MustCompile(`time=(\S+) level=\w+ msg="leader work (started|stopped)"`)
)

// events parses p's log.
func (p *unitProc) events(t *testing.T) []unitEvent {
	t.Helper()
	var out []unitEvent
	for line := range strings.SplitSeq(p.out.String(), "\n") {
		if m := unitLine.FindStringSubmatch(line); m != nil {
			e := unitEvent{at: parseLogTime(t, m[1]), proc: p.name, kind: m[2]}
			for f := range strings.FieldsSeq(m[3]) {
				u, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("%s: unit %q in %q", p.name, f, line)
				}
				e.units = append(e.units, u)
			}
			out = append(out, e)
		} else if m := leaderLine.FindStringSubmatch(line); m != nil {
			out = append(out, unitEvent{at: parseLogTime(t, m[1]), proc: p.name, kind: "leader " + m[2]})
		}
	}
	if at, how := p.endedAt(); !at.IsZero() {
		out = append(out, unitEvent{at: at, proc: p.name, kind: how})
	}
	return out
}

func parseLogTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("log time %q: %v", s, err)
	}
	return at
}

// allEvents returns every process's events in time order.
func allEvents(t *testing.T, ps []*unitProc) []unitEvent {
	t.Helper()
	var es []unitEvent
	for _, p := range ps {
		es = append(es, p.events(t)...)
	}
	slices.SortStableFunc(es, func(a, b unitEvent) int { return a.at.Compare(b.at) })
	return es
}

// owners replays the events: the units each live process owns at the
// end. A process that ended owns nothing.
func owners(es []unitEvent) map[string][]int {
	own := map[string][]int{}
	for _, e := range es {
		switch e.kind {
		case "assigned":
			for _, u := range e.units {
				if !slices.Contains(own[e.proc], u) {
					own[e.proc] = append(own[e.proc], u)
				}
			}
			slices.Sort(own[e.proc])
		case "revoked", "lost":
			own[e.proc] = slices.DeleteFunc(own[e.proc], func(u int) bool { return slices.Contains(e.units, u) })
		case "SIGKILL", "SIGTERM", "exit":
			delete(own, e.proc)
		}
	}
	for p, us := range own {
		if len(us) == 0 {
			delete(own, p)
		}
	}
	return own
}

// timeline renders the events with the ownership after each, relative to
// start, for the test's log.
func timeline(es []unitEvent, start time.Time) string {
	var b strings.Builder
	for i, e := range es {
		own := owners(es[:i+1])
		var names []string
		for p := range own {
			names = append(names, p)
		}
		slices.Sort(names)
		var parts []string
		for _, p := range names {
			parts = append(parts, fmt.Sprintf("%s%v", p, own[p]))
		}
		what := e.kind
		if e.units != nil {
			what += fmt.Sprint(" ", e.units)
		}
		fmt.Fprintf(&b, "  %7.3fs %s %-22s owners: %s\n", e.at.Sub(start).Seconds(), e.proc, what, strings.Join(parts, " "))
	}
	return b.String()
}

// waitOwners polls the processes' logs until cond holds for the owners of
// the units, failing the test after 3 minutes or if a process not yet
// ended exits.
func waitOwners(t *testing.T, what string, ps []*unitProc, cond func(map[string][]int) bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		es := allEvents(t, ps)
		if cond(owners(es)) {
			return
		}
		for _, p := range ps {
			if at, _ := p.endedAt(); !at.IsZero() {
				continue
			}
			select {
			case err := <-p.done:
				t.Fatalf("waiting for %s: %s exited (%v)\n%s", what, p.name, err, p.out.String())
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within 3 minutes; owners %v\n%s", what, owners(es), logsOf(ps))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// everyUnitOwned is a waitOwners condition: each of n units is owned by
// exactly one of the named processes, each of which owns at least one.
func everyUnitOwned(n int, by ...string) func(map[string][]int) bool {
	return func(own map[string][]int) bool {
		seen := map[int]int{}
		for p, us := range own {
			if !slices.Contains(by, p) {
				return false
			}
			for _, u := range us {
				seen[u]++
			}
		}
		for _, p := range by {
			if len(own[p]) == 0 {
				return false
			}
		}
		for u := range n {
			if seen[u] != 1 {
				return false
			}
		}
		return len(seen) == n
	}
}

func logsOf(ps []*unitProc) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "--- %s:\n%s\n", p.name, p.out.String())
	}
	return b.String()
}

// ownerOf returns the process owning unit u, "" if none.
func ownerOf(own map[string][]int, u int) string {
	for p, us := range own {
		if slices.Contains(us, u) {
			return p
		}
	}
	return ""
}

func procByName(ps []*unitProc, name string) *unitProc {
	for _, p := range ps {
		if p.name == name {
			return p
		}
	}
	return nil
}

// kcatProducer writes batches of keyed records to every partition of
// topic with `kcat -P` (librdkafka), one kcat run per batch, until its
// stop function is called; stop returns how many records it wrote.
func kcatProducer(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32) (stop func() int) {
	t.Helper()
	kafkatest.RequireClient(t, kafkatest.ClientKcat)
	k := kafkatest.NewKcat(t, c)
	var (
		mu      sync.Mutex
		stopped bool
		n       int
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		for batch := 0; ; batch++ {
			mu.Lock()
			if stopped {
				mu.Unlock()
				return
			}
			mu.Unlock()
			part := int32(batch) % partitions
			var msgs []kafkatest.Message
			for i := range 50 {
				key, value := fmt.Sprintf("kcat-%d-%d", batch, i), strings.Repeat("v", 100)
				msgs = append(msgs, kafkatest.Message{Key: &key, Value: &value})
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := k.Produce(ctx, topic, part, msgs)
			cancel()
			if err != nil {
				t.Errorf("kcat producer, batch %d: %v", batch, err)
				return
			}
			mu.Lock()
			n += len(msgs)
			mu.Unlock()
		}
	})
	stop = func() int {
		mu.Lock()
		stopped = true
		mu.Unlock()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return n
	}
	t.Cleanup(func() { stop() }) // before kcat's temporary directory goes
	return stop
}

// laneSessionTimeout is the units group's session timeout in the lane's
// scale tests: a killed or paused process's units move after it, so a
// shorter one than the default 45s keeps the tests short. It is not a
// speed the tests expect: they wait for the moves, however long.
const laneSessionTimeout = "15s"

// unitsArgs is a mirror command line with info logs (the timeline needs
// them): the last --log-level given wins.
func unitsArgs(m *migration, units int) []string {
	return append(m.args("mirror", "--units", strconv.Itoa(units)), "--log-level", "info", "--session-timeout", laneSessionTimeout)
}

// noDuplicateKeys fails the test unless every key on the target appears
// once (every key the tests write is unique).
func noDuplicateKeys(t *testing.T, recs []*kgo.Record) {
	t.Helper()
	seen := map[string]int{}
	bad := 0
	for _, r := range recs {
		if seen[string(r.Key)]++; seen[string(r.Key)] == 2 {
			if bad++; bad <= 10 {
				t.Errorf("key %q twice on the target", r.Key)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d keys duplicated on the target", bad)
	}
}

// finish stops the producer, lets a bounded run finish what the
// processes left, and checks the target record by record and with verify.
func finish(t *testing.T, m *migration, topic string, stop func() int) {
	t.Helper()
	written := stop()
	t.Logf("kcat wrote %d records", written)
	if written == 0 {
		t.Fatal("the kcat producer wrote nothing")
	}
	mustRun(t, m.args("mirror", "--until", "end")...)
	src, tgt := consumeSettled(t, m.pair.Source, topic), consumeSettled(t, m.pair.Target, topic)
	sameRecords(t, src, tgt)
	noDuplicateKeys(t, tgt)
	t.Logf("target equals source: %d records", len(tgt))
	mustRun(t, m.args("verify")...)
}

// scaleSetup creates the topic (seeded, with partitions partitions) and
// a migration with a short transaction interval.
func scaleSetup(t *testing.T, name string, partitions int32) (*migration, string) {
	t.Helper()
	p := pair(t, source4, target4)
	topic := kafkatest.TopicName(t, name)
	seedOrders(t, p.Source, topic, partitions, 3000)
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\nmirror:\n  transaction_interval: 100ms\n", topic))
	deleteAtCleanup(t, p.Target, topic)
	return m, topic
}

// TestScaleThreeProcessesChurn: three processes share 6 units while kcat
// writes; one is killed with SIGKILL, a fourth joins, one stops on
// SIGTERM; the survivors end up owning every unit. After each step a
// marker record per partition must reach the target (every unit copies
// under its owner of the moment). Then the target equals
// the source record by record, no key twice, and verify exits 0. The
// timeline of unit moves is logged.
func TestScaleThreeProcessesChurn(t *testing.T) {
	const units = 6
	m, topic := scaleSetup(t, "churn", units)
	stop := kcatProducer(t, m.pair.Source, topic, units)
	args := unitsArgs(m, units)
	start := time.Now()
	ps := []*unitProc{startUnitProc(t, "A", args), startUnitProc(t, "B", args), startUnitProc(t, "C", args)}
	waitOwners(t, "A, B and C to share the units", ps, everyUnitOwned(units, "A", "B", "C"))
	markAndWait(t, m, topic, units, "three", ps)

	ps[0].kill9(t) // A
	ps = append(ps, startUnitProc(t, "D", args))
	waitOwners(t, "D to get units after A's kill", ps, func(own map[string][]int) bool { return len(own["D"]) > 0 })
	waitOwners(t, "B, C and D to own every unit", ps, everyUnitOwned(units, "B", "C", "D"))
	markAndWait(t, m, topic, units, "after-kill", ps)
	procByName(ps, "B").term(t)
	waitOwners(t, "C and D to own every unit", ps, everyUnitOwned(units, "C", "D"))
	markAndWait(t, m, topic, units, "after-term", ps)
	for _, name := range []string{"C", "D"} {
		procByName(ps, name).term(t)
	}
	t.Logf("unit moves (A killed -9, D started, B SIGTERM; C and D SIGTERM at the end):\n%s", timeline(allEvents(t, ps), start))
	finish(t, m, topic, stop)
}

// TestScaleFencedAfterPause: of two processes sharing 4 units, the one
// not doing the leader work is paused with SIGSTOP; the other takes its
// units once its session times out and commits on every partition (a
// marker record per partition reaches the target); the paused one is then
// resumed with SIGCONT. It must report its units fenced or lost, and
// nothing it wrote after the resume may commit: the read_committed target
// equals the source record by record, no key twice.
func TestScaleFencedAfterPause(t *testing.T) {
	const units = 4
	m, topic := scaleSetup(t, "fenced", units)
	stop := kcatProducer(t, m.pair.Source, topic, units)
	args := unitsArgs(m, units)
	start := time.Now()
	ps := []*unitProc{startUnitProc(t, "A", args), startUnitProc(t, "B", args)}
	waitOwners(t, "A and B to share the units", ps, everyUnitOwned(units, "A", "B"))

	victim, other := ps[0], ps[1]
	if ownerOf(owners(allEvents(t, ps)), 0) == "A" {
		victim, other = other, victim
	}
	before := len(victim.out.String())
	victim.cmd.Process.Signal(syscall.SIGSTOP)
	paused := time.Now()
	t.Logf("%s paused (SIGSTOP), owning %v", victim.name, owners(allEvents(t, ps))[victim.name])
	// The victim's log cannot move while it is stopped: wait for the
	// other to be assigned every unit.
	waitOwners(t, other.name+" to be assigned every unit", ps, func(own map[string][]int) bool {
		n := 0
		for _, e := range other.events(t) {
			if e.kind == "assigned" && e.at.After(paused) {
				n += len(e.units)
			}
		}
		return n > 0 && len(own[other.name]) == units
	})
	markAndWait(t, m, topic, units, "after-pause", ps)
	victim.cmd.Process.Signal(syscall.SIGCONT)
	t.Logf("%s resumed (SIGCONT) %.1fs after its pause", victim.name, time.Since(paused).Seconds())
	stoodDown := regexp.MustCompile(`fenced|work units lost`)
	deadline := time.Now().Add(2 * time.Minute)
	for !stoodDown.MatchString(victim.out.String()[before:]) {
		select {
		case err := <-victim.done:
			victim.setEnded("exit")
			t.Logf("%s exited after the resume (%v)", victim.name, err)
			deadline = time.Time{}
		case <-time.After(200 * time.Millisecond):
		}
		if deadline.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was resumed but did not report its units fenced or lost within 2 minutes\n%s", victim.name, victim.out.String())
		}
	}
	for line := range strings.SplitSeq(victim.out.String()[before:], "\n") {
		if stoodDown.MatchString(line) {
			t.Logf("%s after the resume: %s", victim.name, line)
		}
	}
	for _, p := range ps {
		if at, _ := p.endedAt(); at.IsZero() {
			p.term(t)
		}
	}
	t.Logf("unit moves (%s paused and resumed):\n%s", victim.name, timeline(allEvents(t, ps), start))
	finish(t, m, topic, stop)
}

// markAndWait writes a marker record to every partition of topic on the
// source and waits until every one has reached the target: the running
// processes, whichever owns each unit, have copied and committed up to
// now on every unit.
func markAndWait(t *testing.T, m *migration, topic string, partitions int32, label string, ps []*unitProc) {
	t.Helper()
	var markers []*kgo.Record
	for pn := range partitions {
		markers = append(markers, &kgo.Record{Topic: topic, Partition: pn, Key: fmt.Appendf(nil, "%s-%d", label, pn), Value: []byte("marker")})
	}
	m.pair.Source.Produce(t, markers...)
	deadline := time.Now().Add(3 * time.Minute)
	for !allPartitionsHavePrefix(t, m.pair.Target, topic, label+"-", int(partitions)) {
		if time.Now().After(deadline) {
			t.Fatalf("marker %s did not reach every partition of the target within 3 minutes\n%s", label, logsOf(ps))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// allPartitionsHavePrefix reports whether n partitions of topic on c hold
// a committed record whose key starts with prefix.
func allPartitionsHavePrefix(t *testing.T, c *kafkatest.Cluster, topic, prefix string, n int) bool {
	t.Helper()
	seen := map[int32]bool{}
	for _, r := range c.ConsumeAll(t, topic) {
		if strings.HasPrefix(string(r.Key), prefix) {
			seen[r.Partition] = true
		}
	}
	return len(seen) == n
}

// TestScaleLeaderExclusive: the once-per-migration work ("leader work
// started/stopped" in each process's log) runs on one member at a time:
// among three processes, then after the leader is killed with SIGKILL
// (another takes it once the session times out), then after the new
// leader stops on SIGTERM (a clean move). The leader intervals of all
// processes never overlap, and each leader owns unit 0 while it leads.
func TestScaleLeaderExclusive(t *testing.T) {
	const units = 6
	m, topic := scaleSetup(t, "leader", units)
	stop := kcatProducer(t, m.pair.Source, topic, units)
	args := unitsArgs(m, units)
	start := time.Now()
	ps := []*unitProc{startUnitProc(t, "A", args), startUnitProc(t, "B", args), startUnitProc(t, "C", args)}
	waitOwners(t, "A, B and C to share the units", ps, everyUnitOwned(units, "A", "B", "C"))

	var leaders []string
	for round, how := range []string{"SIGKILL", "SIGTERM"} {
		markAndWait(t, m, topic, units, fmt.Sprintf("round-%d", round), ps)
		leader := ownerOf(owners(allEvents(t, ps)), 0)
		leaders = append(leaders, leader)
		p := procByName(ps, leader)
		if how == "SIGKILL" {
			p.kill9(t)
		} else {
			p.term(t)
		}
		waitOwners(t, fmt.Sprintf("round %d: another member to take unit 0 from %s", round, leader), ps, func(own map[string][]int) bool {
			o := ownerOf(own, 0)
			return o != "" && o != leader && leaderRunning(t, procByName(ps, o))
		})
	}
	leaders = append(leaders, ownerOf(owners(allEvents(t, ps)), 0))
	es := allEvents(t, ps)
	t.Logf("leaders in turn: %v; unit moves and leader work:\n%s", leaders, timeline(es, start))
	checkLeaderIntervals(t, es, leaders)
	for _, p := range ps {
		if at, _ := p.endedAt(); at.IsZero() {
			p.term(t)
		}
	}
	finish(t, m, topic, stop)
}

// leaderRunning reports whether p's log says it does the leader work now.
func leaderRunning(t *testing.T, p *unitProc) bool {
	running := false
	for _, e := range p.events(t) {
		switch e.kind {
		case "leader started":
			running = true
		case "leader stopped":
			running = false
		}
	}
	return running
}

// checkLeaderIntervals fails the test unless the leader intervals (from
// "leader work started" to "stopped" or the process's end) never overlap
// and the last processes that led are want, in order.
func checkLeaderIntervals(t *testing.T, es []unitEvent, want []string) {
	t.Helper()
	type interval struct {
		proc       string
		start, end time.Time
	}
	var ivs []interval
	open := map[string]int{} // process -> index in ivs of its open interval
	for _, e := range es {
		i, isOpen := open[e.proc]
		switch e.kind {
		case "leader started":
			if isOpen {
				t.Errorf("%s started the leader work twice without stopping", e.proc)
				continue
			}
			open[e.proc] = len(ivs)
			ivs = append(ivs, interval{proc: e.proc, start: e.at})
		case "leader stopped", "SIGKILL", "SIGTERM", "exit":
			if isOpen {
				ivs[i].end = e.at
				delete(open, e.proc)
			}
		}
	}
	var got []string
	for i, iv := range ivs {
		got = append(got, iv.proc)
		if i > 0 && (ivs[i-1].end.IsZero() || iv.start.Before(ivs[i-1].end)) {
			t.Errorf("%s started the leader work at %s while %s did it (%s to %v)", iv.proc, iv.start.Format(time.StampMicro), ivs[i-1].proc, ivs[i-1].start.Format(time.StampMicro), ivs[i-1].end.Format(time.StampMicro))
		}
	}
	// The first members may pass unit 0 among themselves while they join;
	// from the first kill on, the leaders are the ones the test saw.
	if len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
		t.Errorf("leader work ran on %v in turn, want it to end with %v", got, want)
	}
}
