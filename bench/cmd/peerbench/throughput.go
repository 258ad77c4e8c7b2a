package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/proc"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// grace is how long a measured process has to exit after SIGINT.
const grace = 30 * time.Second

// Row is one throughput measurement.
type Row struct {
	Workload string `json:"workload"`
	Tool     string `json:"tool"`
	Label    string `json:"label"`
	Topic    string `json:"target_topic"`
	// Records and Bytes are what the check found on the target.
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	WallSeconds   float64 `json:"wall_seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	MaxRSS        int64   `json:"max_rss_bytes"`
	// FirstRecordSeconds is from the tool's start until a watcher on the
	// target read its first record (read_committed).
	FirstRecordSeconds float64 `json:"first_record_seconds"`
	// SteadyRecordsPerSec is the records over the time from the first
	// record on the target to the end: the copy rate without start-up.
	SteadyRecordsPerSec float64 `json:"steady_records_per_sec"`
	// Check is "ok" or how the copy differs from the source.
	Check string `json:"check"`
	// Added is what the tool added per record; Topics the topics it
	// created besides the copy.
	Added  string   `json:"added"`
	Topics []string `json:"topics_added,omitempty"`
	Detail string   `json:"detail,omitempty"`
	Err    string   `json:"error,omitempty"`
}

func (r Row) ok() bool { return r.Err == "" && r.Check == "ok" }

// throughput seeds one workload and measures every row on it.
func (b *bench) throughput(ctx context.Context, s *workload.Spec) error {
	name := fmt.Sprintf("%dx%dB", s.Records, s.Size)
	topic := fmt.Sprintf("peer-%s-%d", b.runID, s.Records)
	logf("seeding %s: %d records of %d B in %d partitions", topic, s.Records, s.Size, s.Partitions)
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, b.o.stepTimeout)
	err := b.seed(sctx, s, topic)
	cancel()
	if err != nil {
		return fmt.Errorf("seed %s: %w", topic, err)
	}
	logf("seeded in %.1fs", time.Since(start).Seconds())
	want := expected(s)
	for _, tool := range b.o.rows {
		sctx, cancel := context.WithTimeout(ctx, b.o.stepTimeout)
		r := b.row(sctx, s, name, tool, topic, want)
		cancel()
		b.rep.Rows = append(b.rep.Rows, r)
		logf("%s %s: %d records in %.2fs, %.0f records/s, %.1f MB/s, CPU %.1fs, peak RSS %d MiB, first record %.2fs; %s%s",
			name, r.Label, r.Records, r.WallSeconds, r.RecordsPerSec, r.MBPerSec, r.CPUSeconds, r.MaxRSS>>20, r.FirstRecordSeconds, r.Check, errSuffix(r.Err))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return deleteAndWait(ctx, b.src, topic)
}

var labels = map[string]string{
	"copy":     "bare franz-go copy",
	"kmigrate": "kmigrate mirror (defaults)",
	"mm2-alo":  "MM2 at-least-once",
	"mm2-eos":  "MM2 exactly-once",
}

// row runs one tool on topic, checks its copy, and removes the copy and
// the tool's own topics from both clusters.
func (b *bench) row(ctx context.Context, s *workload.Spec, name, tool, topic string, want []Sum) Row {
	r := Row{Workload: name, Tool: tool, Label: labels[tool], Check: "not checked"}
	beforeSrc, err1 := listTopics(ctx, b.src)
	beforeTgt, err2 := listTopics(ctx, b.tgt)
	if err := errors.Join(err1, err2); err != nil {
		r.Err = err.Error()
		return r
	}
	var total int64
	for _, w := range want {
		total += w.Records
	}
	switch tool {
	case "copy":
		r.Topic = "copy." + topic
		if err := workload.CreateTopic(ctx, b.tgt, r.Topic, s.Partitions); err != nil {
			r.Err = err.Error()
			return r
		}
		cmd := proc.Command(ctx, grace, b.self, "--child", "copy", "--src", strings.Join(b.src, ","),
			"--tgt", strings.Join(b.tgt, ","), "--topic", topic, "--to", r.Topic)
		b.measureExit(ctx, &r, cmd, total)
	case "kmigrate":
		r.Topic = "kmigrate." + topic
		cmd, err := b.kmigrateMirror(topic, "peer-"+b.runID+"-"+fmt.Sprint(s.Records), "kmigrate.", "")
		if err != nil {
			r.Err = err.Error()
			return r
		}
		b.measureExit(ctx, &r, proc.Command(ctx, grace, cmd[0], cmd[1:]...), total)
	case "mm2-alo", "mm2-eos":
		r.Topic = topic
		b.measureMM2(ctx, &r, topic, mm2Mode{EOS: tool == "mm2-eos"}, total)
	}
	if r.Err == "" {
		if err := waitSettled(ctx, b.tgt, r.Topic); err != nil {
			r.Err = err.Error()
		}
	}
	if r.Err == "" {
		got, err := readTopic(ctx, b.tgt, r.Topic, s.Partitions)
		if err != nil {
			r.Err = fmt.Sprintf("check %s: %v", r.Topic, err)
		} else {
			if r.Check = compare(want, got); r.Check == "" {
				r.Check = "ok"
			}
			r.Added = addedSummary(got.Added)
			for _, sum := range got.Sums {
				r.Records += sum.Records
				r.Bytes += sum.Bytes
			}
		}
	}
	if r.WallSeconds > 0 {
		r.RecordsPerSec = float64(r.Records) / r.WallSeconds
		r.MBPerSec = float64(r.Bytes) / 1e6 / r.WallSeconds
	}
	if d := r.WallSeconds - r.FirstRecordSeconds; r.FirstRecordSeconds > 0 && d > 0 {
		r.SteadyRecordsPerSec = float64(r.Records) / d
	}
	r.Topics = b.cleanupRow(context.WithoutCancel(ctx), beforeSrc, beforeTgt, topic)
	return r
}

// waitSettled waits until every partition of topic has its last stable
// offset at its high watermark: a transactional tool's last commit is
// acknowledged before the broker has written its markers, and read_committed
// readers see its records only then.
func waitSettled(ctx context.Context, bootstrap []string, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ac := kadm.NewClient(cl)
	for {
		hw, err1 := ac.ListEndOffsets(ctx, topic)
		lso, err2 := ac.ListCommittedOffsets(ctx, topic)
		if err1 == nil && err2 == nil && hw.Error() == nil && lso.Error() == nil {
			settled := true
			hw.Each(func(o kadm.ListedOffset) {
				l, ok := lso.Lookup(topic, o.Partition)
				settled = settled && ok && l.Offset == o.Offset
			})
			if settled {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: open transactions on the target did not settle: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cleanupRow deletes the topics a row created on either cluster (its copy
// included) and returns their names but the copy's.
func (b *bench) cleanupRow(ctx context.Context, beforeSrc, beforeTgt map[string]bool, copyName string) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var added []string
	for _, c := range []struct {
		name      string
		bootstrap []string
		before    map[string]bool
	}{{"source", b.src, beforeSrc}, {"target", b.tgt, beforeTgt}} {
		now, err := listTopics(ctx, c.bootstrap)
		if err != nil {
			logf("warning: list %s topics: %v", c.name, err)
			continue
		}
		var del []string
		for _, t := range slices.Sorted(maps.Keys(now)) {
			if c.before[t] || strings.HasPrefix(t, "__") && !strings.HasPrefix(t, "__kmigrate") {
				continue
			}
			del = append(del, t)
			if !(c.name == "target" && strings.HasSuffix(t, copyName)) {
				added = append(added, c.name+":"+t)
			}
		}
		if err := deleteAndWait(ctx, c.bootstrap, del...); err != nil {
			logf("warning: %s: %v", c.name, err)
		}
	}
	return added
}

// measureExit runs a tool that exits by itself when the copy is done
// (the bare copy, kmigrate mirror --until end), with a watcher on the
// target for its first record.
func (b *bench) measureExit(ctx context.Context, r *Row, cmd *exec.Cmd, total int64) {
	stderr := proc.NewTail(16 << 10)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, stderr
	start := time.Now()
	w := watch(ctx, b.tgt, r.Topic, total, start)
	g, err := proc.Run([]*exec.Cmd{cmd})
	first, _ := w.stop()
	setUsage(r, g)
	r.FirstRecordSeconds = first
	if err != nil {
		r.Err = proc.ExitError(err, stderr).Error()
		return
	}
	if m := mirrorSummary.FindStringSubmatch(out.String()); m != nil {
		r.Detail = "kmigrate: " + m[0]
	}
}

// mirrorSummary matches the line `kmigrate mirror` prints at the end.
var mirrorSummary = regexp.MustCompile(`copied (\d+) records .* in (\d+) transactions in (\S+)`)

func setUsage(r *Row, g proc.Group) {
	r.WallSeconds = g.Wall.Seconds()
	r.CPUSeconds = g.CPU().Seconds()
	r.MaxRSS = g.MaxRSSSum()
}

// kmigrateMirror writes a spec and returns the command line of `kmigrate
// mirror --until end` with its defaults, copying topic under the migration
// name into prefix+topic; group, if not empty, is the spec's one group.
func (b *bench) kmigrateMirror(topic, migration, prefix, group string) ([]string, error) {
	topics := map[string]any{"include": []string{regexp.QuoteMeta(topic)}}
	if prefix != "" {
		topics["prefix"] = prefix
	}
	spec := map[string]any{
		"version": 1,
		"name":    migration,
		"source":  map[string]any{"bootstrap": b.src},
		"target":  map[string]any{"bootstrap": b.tgt},
		"topics":  topics,
	}
	if group != "" {
		spec["groups"] = map[string]any{"include": []string{regexp.QuoteMeta(group)}}
	}
	path := filepath.Join(b.dir, migration+".json")
	data, _ := json.Marshal(spec) // JSON is YAML
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil, err
	}
	return []string{b.bin, "mirror", "-f", path, "--until", "end", "--progress", "never", "--log-level", "warn"}, nil
}

// measureMM2 runs MM2 until the watcher on the target has read every record
// of the workload, then stops it with SIGINT. Wall time is from MM2's start
// to the last record read on the target; CPU and peak RSS are the whole
// process's, graceful shutdown included.
func (b *bench) measureMM2(ctx context.Context, r *Row, topic string, m mm2Mode, total int64) {
	port, err := freePort()
	if err != nil {
		r.Err = err.Error()
		return
	}
	suffix := strings.TrimPrefix(r.Tool, "mm2-") + fmt.Sprint(total)
	props := mm2Props(suffix, b.src, b.tgt, regexp.QuoteMeta(topic), "peer-none", m, port)
	dir := filepath.Join(b.dir, "mm2-"+suffix)
	argv, err := mm2Command(dir, b.mm2Lib, props)
	if err != nil {
		r.Err = err.Error()
		return
	}
	r.Detail = "mm2.properties: " + strings.ReplaceAll(strings.TrimSpace(formatProps(props)), "\n", "; ")
	mctx, stopMM2 := context.WithCancel(ctx)
	defer stopMM2()
	cmd := proc.Command(mctx, grace, argv[0], argv[1:]...)
	stderr := proc.NewTail(16 << 10)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	start := time.Now()
	w := watch(ctx, b.tgt, topic, total, start)
	type result struct {
		g   proc.Group
		err error
	}
	exited := make(chan result, 1)
	go func() {
		g, err := proc.Run([]*exec.Cmd{cmd})
		exited <- result{g, err}
	}()
	var res result
	select {
	case <-w.done:
		stopMM2()
		res = <-exited
	case res = <-exited:
		if res.err == nil {
			res.err = errors.New("MirrorMaker exited before the copy was complete")
		}
	case <-ctx.Done():
		stopMM2()
		res = <-exited
		res.err = fmt.Errorf("copy not complete: %w", ctx.Err())
	}
	first, last := w.stop()
	setUsage(r, res.g)
	r.WallSeconds, r.FirstRecordSeconds = last, first
	if res.err != nil && last == 0 {
		r.Err = fmt.Sprintf("%v; MM2's log is in %s (--keep keeps it)", proc.ExitError(res.err, stderr), dir)
	}
}

// watcher reads a target topic as it fills (read_committed), to tell when
// its first record arrived and when it holds a given number of records.
type watcher struct {
	done   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
	first  atomic.Int64 // ns since start, 0 until then
	last   atomic.Int64
}

func watch(ctx context.Context, bootstrap []string, topic string, total int64, start time.Time) *watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{done: make(chan struct{}), cancel: cancel}
	w.wg.Go(func() {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(bootstrap...),
			kgo.ConsumeTopics(topic),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.MetadataMinAge(50*time.Millisecond),
			kgo.MetadataMaxAge(time.Second),
		)
		if err != nil {
			return
		}
		defer cl.Close()
		var n int64
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			k := int64(fs.NumRecords())
			if k == 0 {
				continue
			}
			now := time.Since(start).Nanoseconds()
			w.first.CompareAndSwap(0, now)
			if n += k; n >= total {
				w.last.Store(now)
				close(w.done)
				return
			}
		}
	})
	return w
}

// stop ends the watcher and returns the seconds to the first and to the
// total-th record (0 if not seen).
func (w *watcher) stop() (first, last float64) {
	w.cancel()
	w.wg.Wait()
	return float64(w.first.Load()) / 1e9, float64(w.last.Load()) / 1e9
}

// runChild runs the bare franz-go copy: it reads the source topic at
// read_committed to its end and produces every record (partition, key,
// value, headers, timestamp) to the target topic, pipelined, idempotent,
// without transactions: the ceiling of a copy on this machine.
func runChild(ctx context.Context, o options) error {
	if o.child != "copy" || o.src == "" || o.tgt == "" || o.topic == "" || o.to == "" {
		return errors.New("--child copy needs --src, --tgt, --topic and --to")
	}
	cl, err := kgo.NewClient(workload.ProducerOpts(strings.Split(o.tgt, ","))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var (
		mu   sync.Mutex
		perr error
	)
	err = scan(ctx, strings.Split(o.src, ","), o.topic, func(r *kgo.Record) error {
		cl.Produce(ctx, &kgo.Record{Topic: o.to, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp},
			func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					perr = cmpOr(perr, err)
					mu.Unlock()
				}
			})
		return nil
	})
	if err != nil {
		return err
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return perr
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return "; error: " + s
}
