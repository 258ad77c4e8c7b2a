package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// defaultScenarios are the scenarios of issue 14, in the order it asks
// them to land.
const defaultScenarios = "1,2,6,4,3,5,7"

// scenarioParts is the partitions of every scenario topic.
const scenarioParts = 3

// Scenario is one consumer group move by one tool.
type Scenario struct {
	N     int    `json:"scenario"`
	Title string `json:"title"`
	Tool  string `json:"tool"`
	Topic string `json:"topic"`
	// Records is how many records the source holds at the end
	// (read_committed), each of which the group should read once.
	Records int64 `json:"records"`
	// ReadOnSource and ReadOnTarget are what the group read on each.
	ReadOnSource int64 `json:"read_on_source"`
	ReadOnTarget int64 `json:"read_on_target"`
	Tally
	Check  string `json:"check"`
	Detail string `json:"detail,omitempty"`
	Err    string `json:"error,omitempty"`
}

func (s Scenario) ok() bool { return s.Err == "" && s.Check == "ok" }

// scenarioTools are the ways a group is moved: kmigrate, and MM2
// (at-least-once) with offset.lag.max at its default (100) and at 0.
var scenarioTools = []struct {
	name string
	mode *mm2Mode
}{
	{"kmigrate groups migrate", nil},
	{"MM2 offset.lag.max=100 (default)", &mm2Mode{}},
	{"MM2 offset.lag.max=0", &mm2Mode{LagMax: 0, LagMaxSet: true}},
}

// spec describes one scenario.
type spec struct {
	title string
	// seed creates the topic on the source and writes what is there
	// before the group reads; it returns how many records it wrote.
	seed func(ctx context.Context, b *bench, topic string) error
	// read is how many records the group reads on the source.
	read int
	// liveBefore starts producers before the group reads on the source
	// (a live switch); liveAfter starts them after it (a group behind on
	// a live topic). Either way they stop once the group moved.
	liveBefore, liveAfter bool
	// beforeMove runs after the group stopped on the source.
	beforeMove func(ctx context.Context, b *bench, topic string) error
}

func (b *bench) specs() map[int]spec {
	plain := func(n int, cfg map[string]string) func(context.Context, *bench, string) error {
		return func(ctx context.Context, b *bench, topic string) error {
			return b.produce(ctx, topic, cfg, 0, n, nil)
		}
	}
	return map[int]spec{
		1: {title: "caught up, producers stopped", seed: plain(3000, nil), read: 3000},
		2: {title: fmt.Sprintf("%d behind on a live topic", b.o.behind), seed: plain(1000+b.o.behind, nil), read: 1000, liveAfter: true},
		3: {title: fmt.Sprintf("%d behind", b.o.bigBehind), seed: plain(1000+b.o.bigBehind, nil), read: 1000},
		4: {title: "transactional topic with aborted transactions", seed: seedTransactional, read: 1234},
		5: {title: "compacted topic after the cleaner ran", seed: seedCompacted, read: 150},
		6: {title: "live switch (producers keep writing)", seed: plain(1000, nil), read: 2500, liveBefore: true},
		7: {title: "committed offset below the source log start", seed: plain(3000, nil), read: 500, beforeMove: expire},
	}
}

// scenario runs scenario n once per tool.
func (b *bench) scenario(ctx context.Context, n int) []Scenario {
	sp := b.specs()[n]
	var out []Scenario
	for i, tool := range scenarioTools {
		sctx, cancel := context.WithTimeout(ctx, b.o.stepTimeout)
		s := Scenario{N: n, Title: sp.title, Tool: tool.name, Topic: fmt.Sprintf("s%d-%d-%s", n, i, b.runID)}
		start := time.Now()
		b.runScenario(sctx, sp, &s, tool.mode)
		cancel()
		logf("scenario %d (%s), %s: source held %d, read %d on the source and %d on the target: %d re-delivered, %d skipped, %d extra; %s%s (%.0fs)",
			n, sp.title, tool.name, s.Records, s.ReadOnSource, s.ReadOnTarget, s.Redelivered, s.Skipped, s.Extra, s.Check, errSuffix(s.Err), time.Since(start).Seconds())
		out = append(out, s)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

// runScenario seeds, lets the group read on the source, moves it with the
// tool (mode nil: kmigrate) while producers write or not, lets it read on
// the target to the end, and counts.
func (b *bench) runScenario(ctx context.Context, sp spec, s *Scenario, mode *mm2Mode) {
	fail := func(err error) { s.Err, s.Check = err.Error(), "not checked" }
	topic, group := s.Topic, "g-"+s.Topic
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := errors.Join(deleteAndWait(cctx, b.src, topic), deleteAndWait(cctx, b.tgt, topic)); err != nil {
			logf("warning: %v", err)
		}
	}()
	if err := sp.seed(ctx, b, topic); err != nil {
		fail(fmt.Errorf("seed: %w", err))
		return
	}
	var live *producer
	stopLive := func() error {
		if live == nil {
			return nil
		}
		err := live.stop()
		live = nil
		return err
	}
	defer stopLive()
	if sp.liveBefore {
		live = b.startProducer(ctx, topic)
	}
	onSource, err := b.consume(ctx, b.src, group, topic, scenarioParts, sp.read)
	if err != nil {
		fail(err)
		return
	}
	if sp.liveAfter {
		live = b.startProducer(ctx, topic)
	}
	if sp.beforeMove != nil {
		if err := sp.beforeMove(ctx, b, topic); err != nil {
			fail(err)
			return
		}
	}
	live2 := sp.liveBefore || sp.liveAfter
	var stopTool func() error
	if mode == nil {
		stopTool, s.Detail, err = b.kmigrateMove(ctx, topic, group, live2, stopLive)
	} else {
		stopTool, s.Detail, err = b.mm2Move(ctx, topic, group, *mode, live2, stopLive)
	}
	if err != nil {
		fail(err)
		if stopTool != nil {
			_ = stopTool()
		}
		return
	}
	// The consumer stops at the ends it sees: let the last commit's
	// markers land first.
	err = waitSettled(ctx, b.tgt, topic)
	var onTarget []read
	if err == nil {
		onTarget, err = b.consume(ctx, b.tgt, group, topic, scenarioParts, 0)
	}
	if stopErr := stopTool(); err == nil && stopErr != nil {
		err = fmt.Errorf("stop the tool: %w", stopErr)
	}
	if err != nil {
		fail(err)
		return
	}
	var holds []string
	if err := scan(ctx, b.src, topic, func(r *kgo.Record) error {
		holds = append(holds, string(r.Value))
		return nil
	}); err != nil {
		fail(err)
		return
	}
	s.Records, s.ReadOnSource, s.ReadOnTarget = int64(len(holds)), int64(len(onSource)), int64(len(onTarget))
	s.Tally = tally(holds, onSource, onTarget)
	s.Check = "ok"
	if mode == nil && (s.Redelivered != 0 || s.Skipped != 0 || s.Extra != 0) {
		s.Check = fmt.Sprintf("kmigrate must re-deliver and skip nothing: %d re-delivered (first %s), %d skipped (first %s), %d extra",
			s.Redelivered, s.FirstRedelivered, s.Skipped, s.FirstSkipped, s.Extra)
	}
}

// kmigrateMove moves the group with kmigrate: `mirror --until end` then
// `groups migrate`, or with producers live, `mirror --until end` and then a
// continuous mirror during `groups migrate`, then the producers stop and
// `mirror --until end` copies the rest. It returns a no-op stop: nothing runs afterwards.
func (b *bench) kmigrateMove(ctx context.Context, topic, group string, live bool, stopLive func() error) (func() error, string, error) {
	noop := func() error { return nil }
	specArgs, err := b.scenarioSpec(topic, group)
	if err != nil {
		return nil, "", err
	}
	if live {
		// The mirror runs before the move, as in a migration: first to
		// the current end (creating its state), then continuously.
		if _, err := b.kmigrate(ctx, append([]string{"mirror", "--until", "end"}, specArgs...)...); err != nil {
			return nil, "", err
		}
		stop, err := runBackground(ctx, append([]string{b.bin, "mirror"}, specArgs...))
		if err != nil {
			return nil, "", err
		}
		if err := b.waitGrowing(ctx, topic); err != nil {
			return nil, "", errors.Join(err, stop())
		}
		out, err := b.kmigrate(ctx, append([]string{"groups", "migrate", "--group", group, "--wait", "1m"}, specArgs...)...)
		err = errors.Join(err, stopLive(), stop())
		if err != nil {
			return nil, "", err
		}
		if _, err := b.kmigrate(ctx, append([]string{"mirror", "--until", "end"}, specArgs...)...); err != nil {
			return nil, "", err
		}
		return noop, "mirror running while the group moved: " + oneLine(out), nil
	}
	if _, err := b.kmigrate(ctx, append([]string{"mirror", "--until", "end"}, specArgs...)...); err != nil {
		return nil, "", err
	}
	out, err := b.kmigrate(ctx, append([]string{"groups", "migrate", "--group", group}, specArgs...)...)
	if err != nil {
		return nil, "", err
	}
	return noop, oneLine(out), nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// scenarioSpec writes the kmigrate spec of a scenario (topic and group,
// no renaming) and returns the flags that use it.
func (b *bench) scenarioSpec(topic, group string) ([]string, error) {
	argv, err := b.kmigrateMirror(topic, "peer-"+topic, "", group)
	if err != nil {
		return nil, err
	}
	return []string{"-f", argv[3], "--log-level", "warn"}, nil
}

// mm2Move starts MM2 for the topic and group and waits for it to copy
// and sync the group's offsets (with producers live: for the sync, then
// the producers stop and it copies the rest). MM2 keeps running while
// the group reads on the target, as in a real migration; the returned
// function stops it.
func (b *bench) mm2Move(ctx context.Context, topic, group string, m mm2Mode, live bool, stopLive func() error) (func() error, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	suffix := strings.ReplaceAll(topic, "-", "")
	props := mm2Props(suffix, b.src, b.tgt, regexp.QuoteMeta(topic), regexp.QuoteMeta(group), m, port)
	argv, err := mm2Command(b.dir+"/mm2-"+topic, b.mm2Lib, props)
	if err != nil {
		return nil, "", err
	}
	stop, err := runBackground(ctx, argv)
	if err != nil {
		return nil, "", err
	}
	synced, waited, err := b.waitSync(ctx, topic, group, live)
	if err == nil && live {
		err = stopLive()
	}
	if err == nil {
		err = b.waitCopied(ctx, topic)
	}
	if err != nil {
		return stop, "", err
	}
	detail := fmt.Sprintf("target group offsets %v after waiting %.0fs for MM2's sync", synced, waited.Seconds())
	return stop, detail, nil
}

// waitSync waits until MM2 has written the group's offsets on the target
// and they stayed the same for 5 s (MM2 syncs every second here); without
// live producers, also until the target topic stopped growing. It gives up
// after 3 minutes (MM2 never syncs some groups) and returns what it saw.
func (b *bench) waitSync(ctx context.Context, topic, group string, live bool) (map[int32]int64, time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.tgt...))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	ac := kadm.NewClient(cl)
	start := time.Now()
	var prev map[int32]int64
	var prevEnds map[int32]int64
	stable := 0
	for time.Since(start) < 3*time.Minute {
		select {
		case <-ctx.Done():
			return prev, time.Since(start), ctx.Err()
		case <-time.After(time.Second):
		}
		cur := map[int32]int64{}
		if offs, err := ac.FetchOffsets(ctx, group); err == nil {
			for _, o := range offs[topic] {
				cur[o.Partition] = o.At
			}
		}
		ends := map[int32]int64{}
		if !live {
			if lo, err := ac.ListEndOffsets(ctx, topic); err == nil {
				lo.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
			}
		}
		if len(cur) > 0 && maps.Equal(cur, prev) && maps.Equal(ends, prevEnds) {
			if stable++; stable >= 5 {
				return cur, time.Since(start), nil
			}
		} else {
			stable = 0
		}
		prev, prevEnds = cur, ends
	}
	return prev, time.Since(start), nil
}

// waitCopied waits until the target topic holds as many records as the
// source (read_committed), at least: a consumer reading it to the end
// then has had every record there to read.
func (b *bench) waitCopied(ctx context.Context, topic string) error {
	count := func(bs []string) (int, error) {
		n := 0
		err := scan(ctx, bs, topic, func(*kgo.Record) error { n++; return nil })
		return n, err
	}
	want, err := count(b.src)
	if err != nil {
		return err
	}
	for {
		got, err := count(b.tgt)
		if err == nil && got >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the target holds %d records of %d: %w", got, want, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

// waitGrowing waits until the target topic's end offsets grew twice: the
// continuous mirror is copying what the live producers write.
func (b *bench) waitGrowing(ctx context.Context, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.tgt...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ac := kadm.NewClient(cl)
	var prev int64 = -1
	grew := 0
	for grew < 2 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the continuous mirror copied nothing: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
		lo, err := ac.ListEndOffsets(ctx, topic)
		if err != nil {
			continue
		}
		var sum int64
		lo.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		if prev >= 0 && sum > prev {
			grew++
		}
		prev = sum
	}
	return nil
}

// kmigrate runs the kmigrate binary to its end and returns its stdout.
func (b *bench) kmigrate(ctx context.Context, args ...string) (string, error) {
	cmd := proc.Command(ctx, grace, b.bin, args...)
	var out strings.Builder
	stderr := proc.NewTail(16 << 10)
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kmigrate %s: %w; stdout: %s", strings.Join(args[:2], " "), proc.ExitError(err, stderr), out.String())
	}
	return out.String(), nil
}

// producer writes records to a topic until stopped, as a live
// application does.
type producer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error
	n      atomic.Int64
}

// liveRate is how many records per second a live producer writes.
const liveRate = 500

// startProducer writes records live-<i> (key and value) to topic at liveRate until
// stopped.
func (b *bench) startProducer(ctx context.Context, topic string) *producer {
	ctx, cancel := context.WithCancel(ctx)
	p := &producer{cancel: cancel}
	p.wg.Go(func() {
		cl, err := kgo.NewClient(workload.ProducerOpts(b.src)...)
		if err != nil {
			p.err = err
			return
		}
		defer cl.Close()
		t := time.NewTicker(time.Second / 50)
		defer t.Stop()
		for i := 0; ctx.Err() == nil; {
			for range liveRate / 50 {
				v := fmt.Sprintf("live-%d", i)
				cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % scenarioParts), Key: []byte(v), Value: []byte(v)}, nil)
				i++
			}
			p.n.Store(int64(i))
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer fcancel()
		p.err = cl.Flush(fctx)
	})
	return p
}

func (p *producer) stop() error {
	p.cancel()
	p.wg.Wait()
	return p.err
}
