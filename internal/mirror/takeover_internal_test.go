package mirror

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
)

// TestTakenOver: after a failed session, a heartbeat of another process
// written since this Run began means that process fenced this one, and
// Run must stop instead of fencing it back; this process's own heartbeat,
// or one older than the Run, does not.
func TestTakenOver(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	sel, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Name: "takeover", Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID, Groups: sel, Settings: config.DefaultMirror(),
		StateReplicationFactor: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.Ensure(t.Context(), pair.Target.Admin(t), m.StateTopic(), -1); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute)
	write := func(h state.Heartbeat) {
		t.Helper()
		rec, err := state.HeartbeatRecord(m.StateTopic(), h)
		if err != nil {
			t.Fatal(err)
		}
		if err := state.Write(t.Context(), pair.Target.Client(t), rec); err != nil {
			t.Fatal(err)
		}
	}
	host, _ := os.Hostname()
	if got := m.takenOver(t.Context(), since); got != "" {
		t.Fatalf("no heartbeat: taken over by %q", got)
	}
	write(state.Heartbeat{Host: "elsewhere", PID: 7, Time: since.Add(-time.Hour)})
	if got := m.takenOver(t.Context(), since); got != "" {
		t.Fatalf("a heartbeat older than the run: taken over by %q", got)
	}
	write(state.Heartbeat{Host: host, PID: os.Getpid(), Time: time.Now()})
	if got := m.takenOver(t.Context(), since); got != "" {
		t.Fatalf("this process's own heartbeat: taken over by %q", got)
	}
	write(state.Heartbeat{Host: host, PID: os.Getpid(), Time: time.Now(), Instance: m.instance})
	if got := m.takenOver(t.Context(), since); got != "" {
		t.Fatalf("this mirror's own heartbeat: taken over by %q", got)
	}
	// Another mirror of this migration in this very process (a test, or
	// a mistake): its instance tells it apart.
	mine := time.Now().UTC()
	write(state.Heartbeat{Host: host, PID: os.Getpid(), Time: mine, Instance: "other"})
	if got, want := m.takenOver(t.Context(), since), fmt.Sprintf("process %d on %s started at %s", os.Getpid(), host, mine.Format(time.RFC3339)); got != want {
		t.Fatalf("another mirror in this process: %q, want %q", got, want)
	}
	now := time.Now().UTC()
	write(state.Heartbeat{Host: "elsewhere", PID: 7, Time: now})
	if got, want := m.takenOver(t.Context(), since), "process 7 on elsewhere started at "+now.Format(time.RFC3339); got != want {
		t.Fatalf("another process's new heartbeat: %q, want %q", got, want)
	}
}

// TestSessionClaimsBeforeFencing: opening a session names this process in
// the state topic before it initialises the transactional id, outside any
// transaction, so a process it fences finds the heartbeat even if this
// session never commits (seen on Kafka 4.4 under load: the fenced process
// got INVALID_TXN_STATE, saw no newer heartbeat yet, retried and fenced the
// newer one back).
func TestSessionClaimsBeforeFencing(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	sel, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Name: "claim", Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID, Groups: sel, Settings: config.DefaultMirror(),
		StateReplicationFactor: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC().Add(-time.Second)
	s := &session{m: m, settings: m.opts.Settings, exactly: true, stateTop: m.StateTopic(),
		buffers: splitBudget(m.opts.Settings.MemoryBudget, m.opts.Settings.TransactionMaxBytes)}
	defer s.close()
	if err := s.open(t.Context()); err != nil {
		t.Fatal(err)
	}
	topts, err := cluster.Opts(&pair.Target.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := state.Load(t.Context(), pair.Target.Admin(t), m.StateTopic(), topts)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	h := snap.Heartbeat
	if h == nil || h.Host != host || h.PID != os.Getpid() || h.Instance != m.instance || h.Time.Before(before) {
		t.Fatalf("heartbeat after open: %+v, want this process (%s, %d) after %s", h, host, os.Getpid(), before)
	}
	if snap.Meta != nil {
		t.Fatalf("open committed a meta: %+v", snap.Meta)
	}
}
