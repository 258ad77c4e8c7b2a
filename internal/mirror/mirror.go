package mirror

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/state"
)

// ErrFenced is returned by Run when another process took over the
// migration (it initialised the same transactional id later).
var ErrFenced = errors.New("fenced: another kmigrate process is running this migration")

// ErrStateMismatch is returned when the state topic belongs to a migration
// between other clusters.
// It is state.ErrMismatch.
var ErrStateMismatch = state.ErrMismatch

// ErrPartitionsStopped is returned by a bounded copy that finished every
// partition it could but had to stop some (see Stats.Partitions[].Stopped).
var ErrPartitionsStopped = errors.New("some partitions stopped")

// Mirror copies the configured topics; see the package doc.
type Mirror struct {
	opts  Options
	stats *stats
	// ends are the source end offsets a bounded copy stops at, recorded by
	// the first session and kept across sessions.
	ends map[state.TopicPartition]int64
	// stopped are partitions that cannot continue, kept across sessions.
	stopped map[state.TopicPartition]error
	// base is each partition's checkpointed record count when this Run
	// first read it (countCommitted).
	base map[state.TopicPartition]int64
	// instance names this Mirror in its heartbeats (takenOver).
	instance string

	mu     sync.Mutex
	topics []Topic
	// reload asks the running session to commit and end, so that the next
	// one picks up changed topics or partition counts.
	reload chan struct{}
}

// errReload ends a session that was asked to reload.
var errReload = errors.New("reload requested")

// SetTopics replaces the topics to copy. The running session commits what
// it copied and a new one starts with the new topics.
func (m *Mirror) SetTopics(topics []Topic) {
	m.mu.Lock()
	m.topics = slices.Clone(topics)
	m.mu.Unlock()
	m.Reload()
}

// Reload makes the running session commit and a new one start, which
// re-reads partition counts (call it after adding partitions).
func (m *Mirror) Reload() {
	select {
	case m.reload <- struct{}{}:
	default:
	}
}

func (m *Mirror) currentTopics() []Topic {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.topics)
}

func (m *Mirror) reloadRequested() bool {
	select {
	case <-m.reload:
		return true
	default:
		return false
	}
}

// New returns a Mirror for opts. It does not contact the clusters.
func New(opts Options) (*Mirror, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.defaults()
	return &Mirror{opts: opts, stats: newStats(opts.Name), stopped: map[state.TopicPartition]error{}, base: map[state.TopicPartition]int64{}, instance: rand.Text(),
		topics: slices.Clone(opts.Topics), reload: make(chan struct{}, 1)}, nil
}

// Stats returns a snapshot of the progress.
func (m *Mirror) Stats() Stats { return m.stats.snapshot() }

// StateTopic is the migration's state topic on the target.
func (m *Mirror) StateTopic() string { return state.TopicName(m.opts.Name) }

// TransactionalID is the transactional id the mirror produces with.
func (m *Mirror) TransactionalID() string {
	return state.UnitTransactionalID(m.opts.Name, m.opts.Unit, m.opts.Units)
}

// Run copies until ctx is cancelled (continuous mode) or until the end
// offsets recorded when it started are copied (Until end). Cancelling ctx
// commits what was copied so far and returns nil. A session that fails for
// a reason that may pass (a broker going away, an aborted transaction) is
// restarted after a backoff, resuming from the state on the target.
func (m *Mirror) Run(ctx context.Context) error {
	const minBackoff = time.Second
	backoff := minBackoff
	started := time.Now()
	for {
		var committed int64
		m.stats.update(func(s *Stats, _ func(state.TopicPartition) *PartitionStats) { s.Sessions++; committed = s.Transactions })
		err := m.session(ctx)
		if errors.Is(err, errReload) && ctx.Err() == nil {
			continue
		}
		if err == nil || ctx.Err() != nil {
			m.stats.update(func(s *Stats, _ func(state.TopicPartition) *PartitionStats) { s.Done = err == nil; s.Ready = false })
			if err == nil && len(m.stopped) > 0 {
				return m.stoppedError()
			}
			// Cancelling or timing out ctx is a requested stop, whether
			// it interrupted a session or a backoff: not an error.
			if ctx.Err() != nil && err != nil && !errors.Is(err, ctx.Err()) {
				return err
			}
			return nil
		}
		m.stats.update(func(s *Stats, _ func(state.TopicPartition) *PartitionStats) {
			s.Errors++
			s.LastError = err.Error()
			s.Ready = false
			if s.Transactions > committed {
				// The session got somewhere: this is a new failure, not
				// the same one again, and is retried soon.
				backoff = minBackoff
			}
		})
		if fatal(err) {
			return err
		}
		if other := m.takenOver(ctx, started); other != "" {
			return fmt.Errorf("%w (%s): %w", ErrFenced, other, err)
		}
		m.opts.Logger.Warn("mirror session failed; resuming from the last checkpoint", "migration", m.opts.Name, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// takenOver reports, after a failed session, whether another process has
// started mirroring this migration since this Run began: it names itself
// in a heartbeat before it fences (claim), and again in its first commit. Fencing works by the last process to initialise
// the transactional id winning; a failed session of the loser whose error
// did not say "fenced" (brokers word it differently, e.g. with transactions
// v2) must not start another session, which would fence the winner back.
// It returns the other process, or "" (also when the state cannot be read:
// then the retry decides).
func (m *Mirror) takenOver(ctx context.Context, since time.Time) string {
	if m.opts.Settings.Guarantee == config.AtLeastOnce {
		return ""
	}
	o := &m.opts
	cl, err := cluster.Connect(ctx, o.Target, o.Logger, o.TargetOpts...)
	if err != nil {
		return ""
	}
	defer cl.Close()
	topts, err := cluster.Opts(o.Target, nil)
	if err != nil {
		return ""
	}
	snap, err := state.Load(ctx, kadm.NewClient(cl), m.StateTopic(), append(topts, o.TargetOpts...))
	if err != nil {
		return ""
	}
	h := snap.Heartbeat
	if m.unitMode() {
		if uh, ok := snap.UnitHeartbeats[m.opts.Unit]; ok {
			h = &uh
		} else {
			h = nil
		}
	}
	if h == nil {
		return ""
	}
	host, _ := os.Hostname()
	own := h.Host == host && h.PID == os.Getpid()
	if h.Instance != "" {
		own = h.Instance == m.instance
	}
	if own || !h.Time.After(since) {
		return ""
	}
	return fmt.Sprintf("process %d on %s started at %s", h.PID, h.Host, h.Time.Format(time.RFC3339))
}

// claim names this process in a heartbeat on the state topic, written
// outside any transaction, before the session initialises the
// transactional id. Every process that fences this migration's producer
// (or this unit's) has therefore announced itself before the fence, so a
// process that fails because it was fenced finds the newer heartbeat when
// it checks (takenOver), whatever error its broker worded, and however
// long the newer process then takes to commit anything.
func (m *Mirror) claim(ctx context.Context) error {
	o := &m.opts
	cl, err := cluster.NewClient(o.Target, o.Logger, append([]kgo.Opt{
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// One record, acks=all: no need for an idempotent producer id
		// (and its IDEMPOTENT_WRITE permission on old brokers).
		kgo.DisableIdempotentWrite(),
	}, o.TargetOpts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	host, _ := os.Hostname()
	hb := state.Heartbeat{Host: host, PID: os.Getpid(), Time: time.Now().UTC(), Instance: m.instance}
	var rec *kgo.Record
	if m.unitMode() {
		rec, err = state.UnitHeartbeatRecord(m.StateTopic(), o.Unit, hb)
	} else {
		rec, err = state.HeartbeatRecord(m.StateTopic(), hb)
	}
	if err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("announce this process in the state topic %s: %w", m.StateTopic(), err)
	}
	return nil
}

func (m *Mirror) stoppedError() error {
	var errs []error
	for _, err := range m.stopped {
		errs = append(errs, err)
	}
	return fmt.Errorf("%w: %w", ErrPartitionsStopped, errors.Join(errs...))
}

// fatal reports whether err ends Run instead of a session.
func fatal(err error) bool {
	var ce *cluster.ConnectError
	switch {
	case errors.Is(err, ErrFenced), errors.Is(err, ErrStateMismatch), errors.Is(err, errConfig):
		return true
	case errors.As(err, &ce) && !errors.Is(err, cluster.ErrUnreachable):
		return true // TLS, authentication: retrying will not help
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
			kerr.TransactionalIDAuthorizationFailed, kerr.SaslAuthenticationFailed, kerr.UnsupportedVersion:
			return true
		}
	}
	return false
}

// errConfig marks errors about the setup (missing topics, too few target
// partitions) that a retry cannot fix.
var errConfig = errors.New("mirror setup")

func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionCoordinatorFenced)
}
