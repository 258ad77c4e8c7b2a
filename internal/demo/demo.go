package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/cutover"
	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migrate"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/sandbox"
	"github.com/kmigrate/kmigrate/internal/status"
	"github.com/kmigrate/kmigrate/internal/verify"
)

// Options tune the demo. The zero value is the README's demo.
type Options struct {
	// Dir holds the clusters' data; "" uses a temporary directory that
	// is removed at the end.
	Dir string
	// Every is how often the producer app writes one record to each
	// topic (default 5ms: 200 records/s per topic).
	Every time.Duration
	// Quiet is the quiet period before promotion (DefaultQuiet when 0).
	Quiet time.Duration
	// Logger receives kmigrate's own logs (nil: warnings and errors to
	// stderr).
	Logger *slog.Logger
	// Watch, when set, is called once the migration is open and its
	// mirror built, with a context that ends when Run returns; Run then
	// calls the func it returned and waits for it, before closing the
	// migration. kmigrate demo --http serves the dashboard through it.
	Watch func(ctx context.Context, h *migration.Handle, r *migrate.Runner) (wait func())
	// Verified, when set, receives the verify report (kmigrate demo
	// records its summary in the state, for the dashboard).
	Verified func(ctx context.Context, h *migration.Handle, r *verify.Report)
	// Linger keeps the clusters up this long after the report (or until
	// ctx ends), so the dashboard can be looked at in the final state.
	Linger time.Duration
}

// DefaultQuiet is the demo's quiet period before promotion: its producer
// moves at a known moment, so it needs no more.
const DefaultQuiet = 2 * time.Second

// Topics the demo creates.
const (
	TopicOrders    = "orders"    // 12 partitions
	TopicCustomers = "customers" // compacted, 3 partitions
	Group          = "orders-app"
)

// Report is the demo's outcome.
type Report struct {
	Seconds float64 `json:"seconds"`
	// Produced and Consumed count the apps' records on both clusters.
	Produced int `json:"produced"`
	Consumed int `json:"consumed"`
	// Copied is what the mirror copied, per verify.
	Copied int64 `json:"copied"`
	// Duplicates and Gaps are records the consumer app received more than
	// once or never, plus what verify found on the target.
	Duplicates int `json:"duplicates"`
	Gaps       int `json:"gaps"`
	// Resumed is where the group resumed on the target, per partition.
	Resumed []groups.PartitionResult `json:"resumed"`
	// History is the transactional topic: exactly its committed records
	// must be copied.
	History *History       `json:"history"`
	Verify  *verify.Report `json:"verify"`
	OK      bool           `json:"ok"`
}

// Run walks a whole migration on two embedded clusters, printing each step
// to w, and returns the report. Its error is for a demo that could not run
// to the end; a migration that ran but did not verify is Report.OK false.
func Run(ctx context.Context, w io.Writer, o Options) (*Report, error) {
	begin := time.Now()
	if o.Every <= 0 {
		o.Every = 5 * time.Millisecond
	}
	if o.Quiet <= 0 {
		o.Quiet = DefaultQuiet
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	say := func(format string, args ...any) {
		fmt.Fprintf(w, "[%5.1fs] %s\n", time.Since(begin).Seconds(), fmt.Sprintf(format, args...))
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "kmigrate-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	say("Starting two embedded Kafka clusters: the old one (source) and the new one (target).")
	sb, err := sandbox.Start(ctx, sandbox.Config{Dir: dir, SourcePorts: []int{0}, TargetPorts: []int{0}})
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	src, tgt := sb.Source().Bootstrap, sb.Target().Bootstrap
	if err := createTopics(ctx, src); err != nil {
		return nil, err
	}
	hist, err := writeHistory(ctx, src)
	if err != nil {
		return nil, err
	}
	say("The old cluster holds a transactional history: %s, %d records committed and %d in aborted transactions (every third transaction of 200 was aborted after its records reached the log), about 4 MB per partition.",
		hist.Topic, hist.Committed, hist.Aborted)
	topics := []string{TopicOrders, TopicCustomers}
	produced, consumed := newLedger(), newLedger()
	var seq atomic.Int64

	say("Starting the applications on the old cluster: a producer writing %d records/s to %s (12 partitions) and %s (compacted), and the consumer group %s reading both.",
		int(time.Second/o.Every)*len(topics), TopicOrders, TopicCustomers, Group)
	prod, err := startProducer(src, "source", topics, o.Every, &seq, produced)
	if err != nil {
		return nil, err
	}
	defer func() { _ = prod.halt() }()
	cons, err := startConsumer(src, Group, topics, consumed)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cons.halt() }()
	if err := sleep(ctx, 5*time.Second); err != nil {
		return nil, err
	}

	// The smallest memory budget makes the mirror read the history in
	// many fetches per partition, with aborted transactions in all of
	// them.
	budget := config.ByteSize(config.MinMemoryBudget).String()
	cfg, _, err := config.Load(config.Overrides{Source: strings.Join(src, ","), Target: strings.Join(tgt, ","), MemoryBudget: budget}, nil)
	if err != nil {
		return nil, err
	}
	cfg.Name = "demo"
	cfg.Mirror.TransactionInterval = 100 * time.Millisecond
	cfg.Topics.SyncInterval = time.Second
	cfg.Groups.SyncInterval = time.Second
	h, err := migration.Open(ctx, cfg, o.Logger)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	runner, err := migrate.New(ctx, h, migrate.Options{})
	if err != nil {
		return nil, err
	}
	if o.Watch != nil {
		watchCtx, stopWatch := context.WithCancel(ctx)
		wait := o.Watch(watchCtx, h, runner)
		defer func() { stopWatch(); wait() }()
	}
	say("Phase 1, sync: kmigrate mirror (memory budget %s, its smallest) creates the topics on the new cluster and copies every committed record exactly once, continuously; group offsets are synced as the group consumes.", budget)
	runCtx, stopMirror := context.WithCancel(ctx)
	defer stopMirror()
	mirrored := make(chan error, 1)
	go func() { mirrored <- runner.Run(runCtx) }()
	so := status.Options{Quiet: o.Quiet, Sample: 500 * time.Millisecond, Natives: groups.NewNativeCache()}
	if err := waitCaughtUp(ctx, h, so, len(topics)+1, 30*time.Second); err != nil {
		return nil, err
	}
	say("The mirror has caught up: %d records produced so far; it keeps the new cluster within a second of the live producer.", produced.total())
	if err := sleep(ctx, 5*time.Second); err != nil {
		return nil, err
	}

	say("Phase 2, consumers: stopping %s on the old cluster, moving its offsets exactly, starting it on the new cluster.", Group)
	if err := cons.halt(); err != nil {
		return nil, err
	}
	moved, err := groups.Migrate(ctx, h, Group, groups.MigrateOptions{MirrorWait: 30 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("migrate group %s: %w", Group, err)
	}
	say("  %s", resumeSummary(moved))
	if cons, err = startConsumer(tgt, Group, topics, consumed); err != nil {
		return nil, err
	}
	if err := sleep(ctx, 3*time.Second); err != nil {
		return nil, err
	}

	say("Phase 3, producers: the producer now writes to the new cluster.")
	if err := prod.halt(); err != nil {
		return nil, err
	}
	if prod, err = startProducer(tgt, "target", topics, o.Every, &seq, produced); err != nil {
		return nil, err
	}

	say("Phase 4, promote: waiting for the mirror to copy the last records from the old cluster and for it to be quiet for %v, then promoting every topic.", o.Quiet)
	promoted, err := promoteWhenReady(ctx, h, so, 60*time.Second)
	if err != nil {
		return nil, err
	}
	say("  Promoted %s (phase %s): mirroring stops; the new cluster is where the topics live.", strings.Join(promoted.Promoted, ", "), promoted.Phase)
	select {
	case err := <-mirrored:
		if err != nil {
			return nil, fmt.Errorf("mirror: %w", err)
		}
	case <-time.After(30 * time.Second):
		return nil, errors.New("the mirror did not stop after every topic was promoted")
	}

	if err := sleep(ctx, 3*time.Second); err != nil {
		return nil, err
	}
	if err := prod.halt(); err != nil {
		return nil, err
	}
	say("Phase 5, done: the producer stopped; waiting for the consumer to read everything.")
	if err := waitConsumed(ctx, produced, consumed, 30*time.Second); err != nil {
		say("  %v", err)
	}
	if err := cons.halt(); err != nil {
		return nil, err
	}

	say("Verifying: every record of the old cluster against its copy, record by record.")
	v, err := verify.New(ctx, h, verify.Options{})
	if err != nil {
		return nil, err
	}
	vr, err := v.Run(ctx)
	if err != nil {
		return nil, err
	}
	if o.Verified != nil {
		o.Verified(ctx, h, vr)
	}
	if err := hist.check(ctx, tgt, vr); err != nil {
		return nil, err
	}
	dups, missing := compare(produced, consumed)
	r := &Report{
		Seconds: time.Since(begin).Seconds(), Produced: produced.total(), Consumed: consumed.total(),
		Copied: vr.Totals.Copies, Duplicates: len(dups), Gaps: len(missing), Resumed: moved.Partitions, History: hist, Verify: vr,
	}
	r.Gaps += int(vr.Totals.Problems)
	r.OK = vr.OK && len(dups) == 0 && len(missing) == 0 && hist.OK()
	for i, d := range dups {
		if i == 5 {
			break
		}
		say("  duplicate: %s", d)
	}
	for i, m := range missing {
		if i == 5 {
			break
		}
		say("  never consumed: %s", m)
	}
	printReport(w, r)
	if o.Linger > 0 {
		say("The clusters stay up for %v for the dashboard (Ctrl-C ends it).", o.Linger)
		_ = sleep(ctx, o.Linger)
	}
	return r, nil
}

func createTopics(ctx context.Context, bootstrap []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, t := range []struct {
		name string
		n    int32
		cfg  map[string]*string
	}{
		{TopicOrders, 12, map[string]*string{"retention.ms": kadm.StringPtr("-1")}},
		{TopicCustomers, 3, map[string]*string{"retention.ms": kadm.StringPtr("-1"), "cleanup.policy": kadm.StringPtr("compact")}},
	} {
		if _, err := adm.CreateTopic(ctx, t.n, 1, t.cfg, t.name); err != nil {
			return fmt.Errorf("create topic %s: %w", t.name, err)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// waitCaughtUp waits until the mirror mirrors all n topics and its lag is
// below a second of writes.
func waitCaughtUp(ctx context.Context, h *migration.Handle, o status.Options, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		r, err := status.Make(ctx, h, status.Options{Quiet: o.Quiet, Natives: o.Natives})
		if err == nil {
			caught := true
			for _, t := range r.Topics {
				caught = caught && t.LagSeconds < 1
			}
			if caught && len(r.Topics) == n {
				return nil
			}
		} else if !errors.Is(err, migration.ErrNoState) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the mirror did not catch up within %v", limit)
		}
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return err
		}
	}
}

// promoteWhenReady promotes every topic once the preconditions hold.
func promoteWhenReady(ctx context.Context, h *migration.Handle, o status.Options, limit time.Duration) (*cutover.PromoteResult, error) {
	deadline := time.Now().Add(limit)
	for {
		res, err := cutover.Promote(ctx, h, nil, false, o)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, cutover.ErrPreconditions) || time.Now().After(deadline) {
			return nil, err
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func waitConsumed(ctx context.Context, produced, consumed *ledger, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for consumed.total() < produced.total() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the consumer read %d of %d records within %v", consumed.total(), produced.total(), limit)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func resumeSummary(r *groups.GroupResult) string {
	kinds := map[string]int{}
	for _, p := range r.Partitions {
		kinds[p.Kind.String()]++
	}
	var parts []string
	for _, k := range []string{"exact", "next-copied", "end", "expired"} {
		if kinds[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
		}
	}
	done := fmt.Sprintf("%d committed on the new cluster", r.Committed)
	if r.Committed == 0 {
		done = "all already in place on the new cluster, synced by the running mirror"
	}
	return fmt.Sprintf("%s: %d partitions translated (%s), %s", r.Group, len(r.Partitions), strings.Join(parts, ", "), done)
}

func printReport(w io.Writer, r *Report) {
	verdict := "PASSED"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "\nReport (%s)\n", verdict)
	fmt.Fprintf(w, "  time taken:        %.1fs\n", r.Seconds)
	fmt.Fprintf(w, "  records produced:  %d (old cluster, then new)\n", r.Produced)
	fmt.Fprintf(w, "  records consumed:  %d by %s (old cluster, then new)\n", r.Consumed, Group)
	fmt.Fprintf(w, "  records copied:    %d, verified record by record: %s\n", r.Copied, okText(r.Verify.OK))
	r.History.print(w)
	fmt.Fprintf(w, "  duplicates:        %d\n", r.Duplicates)
	fmt.Fprintf(w, "  gaps:              %d\n", r.Gaps)
	ps := slices.Clone(r.Resumed)
	fmt.Fprintf(w, "  %s resumed on the new cluster at:\n", Group)
	for _, p := range ps {
		rec := "the end of the copied data"
		if p.Record != nil {
			rec = fmt.Sprintf("the copy of old offset %d", p.Record.Origin)
		}
		fmt.Fprintf(w, "    %s/%d: old offset %d -> new offset %d (%s, %s)\n", p.Topic, p.Partition, p.From, p.To, p.Kind, rec)
	}
}

func okText(ok bool) string {
	if ok {
		return "everything matches"
	}
	return "MISMATCHES (see kmigrate verify)"
}
