package mirror

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Pool runs work units of one migration in one process, each as its own
// Mirror (own session, transactional producer and commits), so that a
// commit in one unit never stalls another. The process's memory budget is
// shared: each unit gets 1/Units of it (UnitBudget), so a process stays
// within its budget whichever units it owns.
//
// A Pool is built with the migration's Options (Unit and Units unset),
// settled once (Settle: the unit count, fixed in the state), then either
// Run over a fixed set of units or driven unit by unit with Start and Stop
// (group membership, package membership).
type Pool struct {
	opts Options

	mu      sync.Mutex
	units   int
	topics  []Topic
	mirrors map[int]*Mirror
	running map[int]*runningUnit
}

// runningUnit is a started unit: cancel stops it, done closes when its Run
// returned err.
type runningUnit struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// NewPool returns a Pool for the migration opts describes. It does not
// contact the clusters.
func NewPool(opts Options) (*Pool, error) {
	opts.Unit, opts.Units = 0, 0
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.defaults()
	return &Pool{opts: opts, topics: slices.Clone(opts.Topics), mirrors: map[int]*Mirror{}, running: map[int]*runningUnit{}}, nil
}

// Units is the settled unit count, 0 before Settle.
func (p *Pool) Units() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.units
}

// UnitBudget is each unit's part of a process memory budget when n units
// run at once: the runtime overhead once, the rest split evenly. One unit
// gets the whole budget.
func UnitBudget(budget int64, n int) int64 {
	if n <= 1 {
		return budget
	}
	return config.RuntimeOverhead + (budget-config.RuntimeOverhead)/int64(n)
}

// Run copies the given units at once until every one is done (a bounded
// copy), ctx ends (each commits what it copied; Run returns nil), or one
// fails for good: the others are then stopped and Run returns the errors.
func (p *Pool) Run(ctx context.Context, owned []int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
	)
	for _, u := range owned {
		err := p.Start(ctx, u, func(err error) {
			if err == nil {
				return
			}
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			if !errors.Is(err, ErrPartitionsStopped) {
				cancel()
			}
		})
		if err != nil {
			cancel()
			p.StopAll()
			return err
		}
	}
	p.wait(owned)
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}

// Start starts copying unit u until ctx ends or Stop; exited is called
// with Run's error when it returns. Starting a running unit does nothing.
func (p *Pool) Start(ctx context.Context, u int, exited func(error)) error {
	n := p.Units()
	if n == 0 {
		return errors.New("mirror pool: Start before Settle")
	}
	p.mu.Lock()
	if _, ok := p.running[u]; ok {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	m, err := p.mirror(u, n)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	ru := &runningUnit{cancel: cancel, done: make(chan struct{})}
	p.mu.Lock()
	p.running[u] = ru
	p.mu.Unlock()
	go func() {
		err := m.Run(ctx)
		cancel()
		ru.err = err
		p.mu.Lock()
		if p.running[u] == ru {
			delete(p.running, u)
		}
		p.mu.Unlock()
		if exited != nil {
			exited(err)
		}
		close(ru.done)
	}()
	return nil
}

// Stop stops the given units at once (each session commits what it
// copied) and returns once they stopped, with their Runs' errors; a unit
// that is not running adds nothing. It must not be called from the exited
// function of a unit it stops.
func (p *Pool) Stop(us ...int) error {
	p.mu.Lock()
	var rus []*runningUnit
	for _, u := range us {
		if ru := p.running[u]; ru != nil {
			rus = append(rus, ru)
		}
	}
	p.mu.Unlock()
	var errs []error
	for _, ru := range rus {
		ru.cancel()
	}
	for _, ru := range rus {
		<-ru.done
		errs = append(errs, ru.err)
	}
	return errors.Join(errs...)
}

// StopAll stops every running unit and waits for them.
func (p *Pool) StopAll() { _ = p.Stop(p.Running()...) }

// wait waits for the given units to end.
func (p *Pool) wait(us []int) {
	p.mu.Lock()
	var rus []*runningUnit
	for _, u := range us {
		if ru := p.running[u]; ru != nil {
			rus = append(rus, ru)
		}
	}
	p.mu.Unlock()
	for _, ru := range rus {
		<-ru.done
	}
}

// Running returns the units started and not yet ended or stopped, sorted.
func (p *Pool) Running() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(maps.Keys(p.running))
}

// mirror returns a new Mirror for unit u of n.
func (p *Pool) mirror(u, n int) (*Mirror, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := p.opts
	o.Unit, o.Units = u, n
	o.Topics = slices.Clone(p.topics)
	o.Settings.MemoryBudget = UnitBudget(o.Settings.MemoryBudget, n)
	if n > 1 {
		o.Logger = o.Logger.With("unit", u)
	}
	m, err := New(o)
	if err != nil {
		return nil, err
	}
	p.mirrors[u] = m
	return m, nil
}

// SetTopics replaces the topics every unit copies (Mirror.SetTopics).
func (p *Pool) SetTopics(topics []Topic) {
	p.mu.Lock()
	p.topics = slices.Clone(topics)
	ms := slices.Collect(maps.Values(p.mirrors))
	p.mu.Unlock()
	for _, m := range ms {
		m.SetTopics(topics)
	}
}

// Reload makes every unit start a new session (Mirror.Reload).
func (p *Pool) Reload() {
	p.mu.Lock()
	ms := slices.Collect(maps.Values(p.mirrors))
	p.mu.Unlock()
	for _, m := range ms {
		m.Reload()
	}
}

// Topics returns the topics the units copy.
func (p *Pool) Topics() []Topic {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.topics)
}

// Stats merges the progress of every unit this Pool ran (the last run of
// each). Ready is whether every running unit is ready, and false when none
// runs; Done whether every unit is done.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	us := slices.Sorted(maps.Keys(p.mirrors))
	ms := make([]*Mirror, len(us))
	running := make([]bool, len(us))
	for i, u := range us {
		ms[i] = p.mirrors[u]
		_, running[i] = p.running[u]
	}
	anyRunning := len(p.running) > 0
	single := p.units <= 1
	p.mu.Unlock()
	if len(ms) == 1 && single {
		return ms[0].Stats()
	}
	out := newStats(p.opts.Name).snapshot()
	out.Ready = anyRunning
	for i, m := range ms {
		s := m.Stats()
		if i == 0 || s.Started.Before(out.Started) {
			out.Started = s.Started
		}
		out.Records += s.Records
		out.Bytes += s.Bytes
		out.Transactions += s.Transactions
		out.Sessions += s.Sessions
		out.Errors += s.Errors
		out.AbortedDropped += s.AbortedDropped
		if s.LastError != "" {
			out.LastError = s.LastError
		}
		if running[i] && !s.Ready {
			out.Ready = false
		}
		out.Done = s.Done && (i == 0 || out.Done)
		out.Partitions = append(out.Partitions, s.Partitions...)
		out.Expired = append(out.Expired, s.Expired...)
		u := UnitStats{Unit: us[i], Running: running[i], Records: s.Records}
		for _, ps := range s.Partitions {
			u.Lag += ps.Lag
		}
		out.Units = append(out.Units, u)
	}
	slices.SortFunc(out.Partitions, func(a, b PartitionStats) int {
		if a.Topic != b.Topic {
			return compareStrings(a.Topic, b.Topic)
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ErrUnits: the unit count asked for is not the one the migration's state
// fixed.
var ErrUnits = errors.New("work unit count")

// Settle fixes the migration's unit count in its state, before any unit
// runs, and returns it. want is the count asked for (--units), 0 for "as
// the state says, or fresh for a new migration" (fresh below 1 means 1).
//
//   - A new migration gets want units (fresh when want is 0; at least 1),
//     recorded in its meta when above 1.
//   - A migration whose state records a count keeps it; asking for another
//     is refused (ErrUnits): partitions would change owners.
//   - A migration of one unit (state written before units, or with 1)
//     asked for more is moved to units: the migration's single
//     transactional id is initialised, which fences any process still
//     copying under it and aborts its open transaction, and the meta with
//     the new count is committed in a transaction of that id, with a
//     heartbeat naming this process (so an older process whose session
//     fails stops, Mirror.takenOver). Only then do the units read the
//     state, whose checkpoints they resume from.
func (p *Pool) Settle(ctx context.Context, want, fresh int) (int, error) {
	if want < 0 {
		return 0, fmt.Errorf("%w: %d units: use a positive number", ErrUnits, want)
	}
	n, err := p.settle(ctx, want, fresh)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	p.units = n
	p.mu.Unlock()
	return n, nil
}

func (p *Pool) settle(ctx context.Context, want, fresh int) (int, error) {
	o := &p.opts
	cl, err := cluster.Connect(ctx, o.Target, o.Logger, o.TargetOpts...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topic := state.TopicName(o.Name)
	topts, err := cluster.Opts(o.Target, nil)
	if err != nil {
		return 0, err
	}
	// Read before writing anything: a refused count writes nothing.
	var meta *state.Meta
	switch snap, err := state.Load(ctx, adm, topic, append(topts, o.TargetOpts...)); {
	case errors.Is(err, state.ErrNoState):
	case err != nil:
		return 0, err
	default:
		meta = snap.Meta
	}
	if meta != nil && (meta.SourceClusterID != o.SourceID || meta.TargetClusterID != o.TargetID) {
		return 0, fmt.Errorf("%w: state topic %s on the target records migration %q from cluster %s to %s, but the source is %s and the target %s: use another migration name",
			ErrStateMismatch, topic, meta.Migration, meta.SourceClusterID, meta.TargetClusterID, o.SourceID, o.TargetID)
	}
	if meta == nil && want == 0 {
		want = fresh
	}
	switch {
	case meta == nil && want <= 1:
		return 1, nil // the mirror writes the meta, as ever
	case meta == nil:
		if _, err := state.Ensure(ctx, adm, topic, o.StateReplicationFactor); err != nil {
			return 0, err
		}
		rec, err := state.MetaRecord(topic, p.newMeta(want))
		if err != nil {
			return 0, err
		}
		if err := state.Write(ctx, cl, rec); err != nil {
			return 0, fmt.Errorf("record %d work units: %w", want, err)
		}
		return want, nil
	case meta.Units > 1 && (want == 0 || want == meta.Units):
		return meta.Units, nil
	case meta.Units > 1:
		return 0, fmt.Errorf("%w: migration %s is divided into %d work units, fixed when its state was first written; asked for %d: drop --units or pass --units %d",
			ErrUnits, o.Name, meta.Units, want, meta.Units)
	case want <= 1:
		return 1, nil
	}
	m := *meta
	m.Units = want
	if err := p.fenceSingle(ctx, topic, m); err != nil {
		return 0, err
	}
	o.Logger.Info("migration moved to work units: its single transactional id is fenced", "migration", o.Name, "units", want)
	return want, nil
}

func (p *Pool) newMeta(units int) state.Meta {
	o := &p.opts
	topics := map[string]string{}
	for _, t := range p.topics {
		topics[t.Source] = t.Target
	}
	return state.Meta{
		Migration: o.Name, SourceClusterID: o.SourceID, TargetClusterID: o.TargetID, Created: time.Now().UTC(),
		Guarantee: string(o.Settings.Guarantee), TracingHeaders: o.Settings.TracingHeaders, Topics: topics, Units: units,
	}
}

// fenceSingle initialises the migration's single transactional id (fencing
// whoever used it and aborting its open transaction) and commits meta with
// a heartbeat in a transaction of that id.
func (p *Pool) fenceSingle(ctx context.Context, topic string, meta state.Meta) error {
	o := &p.opts
	id := state.TransactionalID(o.Name)
	prod, err := cluster.NewClient(o.Target, o.Logger, append([]kgo.Opt{
		kgo.TransactionalID(id), kgo.TransactionTimeout(time.Minute),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, o.TargetOpts...)...)
	if err != nil {
		return err
	}
	defer prod.Close()
	if _, _, err := prod.ProducerID(ctx); err != nil {
		return fmt.Errorf("fence transactional id %s: %w", id, err)
	}
	host, _ := os.Hostname()
	mrec, err := state.MetaRecord(topic, meta)
	if err != nil {
		return err
	}
	hrec, err := state.HeartbeatRecord(topic, state.Heartbeat{Host: host, PID: os.Getpid(), Time: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := prod.BeginTransaction(); err != nil {
		return fmt.Errorf("fence transactional id %s: %w", id, err)
	}
	if err := prod.ProduceSync(ctx, mrec, hrec).FirstErr(); err != nil {
		_ = prod.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort)
		return fmt.Errorf("record %d work units: %w", meta.Units, err)
	}
	if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("record %d work units: %w", meta.Units, err)
	}
	return nil
}
