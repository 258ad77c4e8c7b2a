package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// part is the session's view of one source partition.
type part struct {
	tp     state.TopicPartition
	target string
	enc    *trace.Encoder
	// maxBatch is the target topic's max.message.bytes: the largest
	// record batch it accepts, so the largest copy is one that fits in a
	// batch of its own (batchBytes).
	maxBatch int
	// next is the committed position; pos includes the open transaction.
	next, pos int64
	// start is where the mirror began this partition (state.Checkpoint
	// Start), -1 when the state does not say.
	start int64
	end   int64 // bounded copy end, -1 continuous
	hwm   int64
	// fresh partitions have no checkpoint yet: their start position must
	// be committed before copying, so a crash cannot move it.
	fresh bool
	// recovered partitions moved past records found on the target tail
	// (at-least-once resume); their checkpoint must be rewritten.
	recovered bool
	omap      *partMap
	// open transaction
	recs    []pending
	bytes   int64
	expired []state.Expired
	records int64 // committed records, for the checkpoint

	// seen is the offset after the last record routed (copied, skipped or
	// held); records below it are re-fetches.
	seen int64
	// held are records not routed yet because a source transaction
	// before them has not ended (txn.go); outcomes are the ends read.
	held      []*kgo.Record
	heldBytes int64
	outcomes  map[int64][]outcome
	aborted   int64 // aborted source records dropped by their marker
}

// pending is a record produced in the open transaction.
type pending struct {
	src int64
	r   *kgo.Record
}

func (p *part) done() bool { return p.end >= 0 && p.next >= p.end }

// session is one run of the copy loop with its own clients; any error ends
// it, and the next session starts from the state on the target.
type session struct {
	m         *Mirror
	log       *slog.Logger
	settings  config.Mirror
	exactly   bool
	srcAdm    *kadm.Client
	tgtAdm    *kadm.Client
	src, prod *kgo.Client
	parts     map[state.TopicPartition]*part
	order     []*part
	meta      *state.Meta
	topics    []Topic
	writeMeta bool
	stateTop  string

	// batchLimits is max.message.bytes per target topic, read by the
	// producer's goroutines (maxBatchBytes).
	batchLimits atomic.Pointer[map[string]int]

	buffers buffers
	// fetchSize adapts the fetch size to the record size.
	fetchSize *fetchSizer
	// carry holds polled records that did not fit in the last transaction.
	carry []carried
	// announced is set once a commit named this process (commit.go).
	announced bool
	// heldBytes is what the parts' held records count (txn.go);
	// overflowed is set when it passed the transaction bound.
	heldBytes  int64
	overflowed bool

	// per transaction
	slab     []byte // tracing header values
	txnBytes int64
	// lastWrite is when a transaction last committed.
	lastWrite time.Time

	produceMu  sync.Mutex
	produceErr error
	failedRec  *kgo.Record
}

func (m *Mirror) session(ctx context.Context) (err error) {
	s := &session{
		buffers:  splitBudget(m.opts.Settings.MemoryBudget, m.opts.Settings.TransactionMaxBytes),
		m:        m,
		log:      m.opts.Logger.With("migration", m.opts.Name),
		settings: m.opts.Settings,
		exactly:  m.opts.Settings.Guarantee != config.AtLeastOnce,
		parts:    map[state.TopicPartition]*part{},
		stateTop: m.StateTopic(),
		topics:   m.currentTopics(),
	}
	defer s.close()
	if err := s.open(ctx); err != nil {
		return err
	}
	if err := s.resume(ctx); err != nil {
		return err
	}
	if s.allDone() {
		// Nothing to copy, but what resume decided (start positions of
		// new partitions, expired ranges, meta) is committed all the
		// same: a later run would otherwise decide it again, and with a
		// latest or timestamp start skip what was produced in between.
		return s.transaction(ctx, func(context.Context) (bool, error) { return false, nil })
	}
	m.stats.update(func(st *Stats, _ func(state.TopicPartition) *PartitionStats) { st.Ready = true })
	return s.loop(ctx)
}

func (s *session) close() {
	for _, cl := range []*kgo.Client{s.src, s.prod} {
		if cl != nil {
			cl.Close()
		}
	}
	if s.srcAdm != nil {
		s.srcAdm.Close()
	}
	if s.tgtAdm != nil {
		s.tgtAdm.Close()
	}
}

// open connects the admin clients and the producer, and, in exactly-once
// mode, fences every earlier producer of this migration.
func (s *session) open(ctx context.Context) error {
	o := &s.m.opts
	srcCl, err := cluster.Connect(ctx, o.Source, o.Logger, o.SourceOpts...)
	if err != nil {
		return err
	}
	s.srcAdm = kadm.NewClient(srcCl)
	tgtCl, err := cluster.Connect(ctx, o.Target, o.Logger, o.TargetOpts...)
	if err != nil {
		return err
	}
	s.tgtAdm = kadm.NewClient(tgtCl)
	if _, err := state.Ensure(ctx, s.tgtAdm, s.stateTop, o.StateReplicationFactor); err != nil {
		return err
	}
	if s.exactly {
		if err := s.m.claim(ctx); err != nil {
			return err
		}
	}
	popts := []kgo.Opt{
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedBytes(int(s.buffers.producer)),
		kgo.ProducerBatchCompression(codec(s.settings.Compression)),
		kgo.ProducerBatchMaxBytesFn(s.maxBatchBytes),
		// No RecordDeliveryTimeout: franz-go measures it from the record's
		// timestamp, and mirrored records keep their (possibly old) source
		// timestamps, so any timeout would fail them at once. Retries and
		// the transaction timeout bound a stuck produce instead.
		kgo.RecordRetries(20),
		// A transaction's first produce to a partition can meet
		// CONCURRENT_TRANSACTIONS while the last commit's markers are
		// still being written (transactions v2, Kafka 4): franz-go
		// retries those batches only after a metadata refresh, and
		// refreshes at most once per MetadataMinAge (5 s by default),
		// so each such commit stalled the copy loop's Flush for
		// seconds (issue 13, bench/cmd/flushprobe).
		kgo.MetadataMinAge(250 * time.Millisecond),
	}
	if s.exactly {
		popts = append(popts, kgo.TransactionalID(s.m.TransactionalID()), kgo.TransactionTimeout(time.Minute))
	}
	if s.prod, err = cluster.NewClient(o.Target, o.Logger, append(popts, o.TargetOpts...)...); err != nil {
		return err
	}
	if s.exactly {
		// Initialising the producer id bumps the epoch of this
		// transactional id: any other process still producing for this
		// migration is fenced, and its open transaction aborted, before
		// we read the state it may have been writing.
		if _, _, err := s.prod.ProducerID(ctx); err != nil {
			if isFenced(err) {
				return fmt.Errorf("%w: %w", ErrFenced, err)
			}
			return fmt.Errorf("initialise transactional producer %s: %w", s.m.TransactionalID(), err)
		}
	}
	return nil
}

// resume loads the state, checks it belongs to these clusters, and works
// out where each partition starts.
func (s *session) resume(ctx context.Context) error {
	o := &s.m.opts
	topts, err := cluster.Opts(o.Target, nil)
	if err != nil {
		return err
	}
	snap, err := state.Load(ctx, s.tgtAdm, s.stateTop, append(topts, o.TargetOpts...))
	if err != nil {
		return err
	}
	if err := s.checkMeta(snap); err != nil {
		return err
	}
	if err := s.buildParts(ctx, snap); err != nil {
		return err
	}
	s.m.countCommitted(s.order)
	if err := s.recoverTail(ctx); err != nil {
		return err
	}
	if err := s.resolveStarts(ctx, snap); err != nil {
		return err
	}
	if err := s.recordEnds(ctx); err != nil {
		return err
	}
	s.publish()
	offsets := map[string]map[int32]kgo.Offset{}
	for _, p := range s.order {
		if p.done() || s.m.stopped[p.tp] != nil {
			continue
		}
		if offsets[p.tp.Topic] == nil {
			offsets[p.tp.Topic] = map[int32]kgo.Offset{}
		}
		offsets[p.tp.Topic][p.tp.Partition] = kgo.NewOffset().At(p.pos)
	}
	brokers, err := s.srcAdm.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("source brokers: %w", err)
	}
	s.buffers.fetch = fetchBytes(s.settings.MemoryBudget, len(brokers.Brokers))
	fetchMax := s.buffers.fetch
	s.fetchSize = newFetchSizer(fetchMax)
	copts, err := cluster.Opts(o.Source, o.Logger)
	if err != nil {
		return err
	}
	s.src, err = kgo.NewClient(append(append(copts, o.SourceOpts...),
		kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxBytes(fetchMax),
		kgo.FetchMaxPartitionBytes(partitionFetchBytes(fetchMax)),
		// One fetch in flight per source broker (franz-go's default):
		// limiting it lets a fetch to a broker with nothing new hold a
		// slot for the whole fetch wait while others have data. A short
		// wait keeps an idle broker's fetch from delaying a commit.
		kgo.FetchMaxWait(500*time.Millisecond),
		// No fetch sessions: see "Reading" in doc.go.
		kgo.DisableFetchSessions(),
	)...)
	if err != nil {
		return fmt.Errorf("source consumer: %w", err)
	}
	return nil
}

func (s *session) checkMeta(snap *state.Snapshot) error {
	o := &s.m.opts
	topics := map[string]string{}
	for _, t := range s.topics {
		topics[t.Source] = t.Target
	}
	if err := s.m.checkUnits(snap.Meta); err != nil {
		return err
	}
	if snap.Meta == nil {
		s.meta = &state.Meta{
			Migration: o.Name, SourceClusterID: o.SourceID, TargetClusterID: o.TargetID, Created: time.Now().UTC(),
			Guarantee: string(s.settings.Guarantee), TracingHeaders: s.settings.TracingHeaders, Topics: topics,
		}
		s.writeMeta = true
		return nil
	}
	m := snap.Meta
	if m.SourceClusterID != o.SourceID || m.TargetClusterID != o.TargetID {
		return fmt.Errorf("%w: state topic %s on the target records migration %q from cluster %s to %s, but the source is %s and the target %s: use another migration name",
			ErrStateMismatch, s.stateTop, m.Migration, m.SourceClusterID, m.TargetClusterID, o.SourceID, o.TargetID)
	}
	for src, tgt := range topics {
		if old, ok := m.Topics[src]; ok && old != tgt {
			return fmt.Errorf("%w: topic %s was mirrored to %s by this migration and cannot now go to %s", errConfig, src, old, tgt)
		}
	}
	merged := *m
	merged.Topics = map[string]string{}
	for k, v := range m.Topics {
		merged.Topics[k] = v
	}
	for k, v := range topics {
		if _, ok := merged.Topics[k]; !ok {
			merged.Topics[k] = v
			s.writeMeta = true
		}
	}
	s.meta = &merged
	if !s.m.writesMeta() {
		s.writeMeta = false
	}
	return nil
}

// buildParts lists the partitions of every topic on both clusters and loads
// each partition's offset map.
func (s *session) buildParts(ctx context.Context, snap *state.Snapshot) error {
	o := &s.m.opts
	var srcNames, tgtNames []string
	for _, t := range s.topics {
		srcNames = append(srcNames, t.Source)
		tgtNames = append(tgtNames, t.Target)
	}
	srcMeta, err := s.srcAdm.Metadata(ctx, srcNames...)
	if err != nil {
		return fmt.Errorf("source metadata: %w", err)
	}
	tgtMeta, err := s.tgtAdm.Metadata(ctx, tgtNames...)
	if err != nil {
		return fmt.Errorf("target metadata: %w", err)
	}
	limits, err := s.recordLimits(ctx, tgtNames)
	if err != nil {
		return err
	}
	for _, t := range s.topics {
		sd, ok := srcMeta.Topics[t.Source]
		if !ok || sd.Err != nil {
			return fmt.Errorf("%w: source topic %s: %v", errConfig, t.Source, topicErr(sd.Err))
		}
		td, ok := tgtMeta.Topics[t.Target]
		if !ok || td.Err != nil {
			return fmt.Errorf("%w: target topic %s (for %s): %v", errConfig, t.Target, t.Source, topicErr(td.Err))
		}
		if len(td.Partitions) < len(sd.Partitions) {
			return fmt.Errorf("%w: target topic %s has %d partitions, source %s has %d: add partitions to the target", errConfig, t.Target, len(td.Partitions), t.Source, len(sd.Partitions))
		}
		enc := trace.NewEncoder(o.SourceID, t.Source)
		for pn := range int32(len(sd.Partitions)) {
			tp := state.TopicPartition{Topic: t.Source, Partition: pn}
			if !s.m.owns(tp) {
				continue
			}
			omap, err := loadPartMap(snap.Segments[tp])
			if err != nil {
				return fmt.Errorf("offset map of %s: %w", tp, err)
			}
			p := &part{tp: tp, target: t.Target, enc: enc, maxBatch: limits[t.Target], start: -1, end: -1, omap: omap}
			if c, ok := snap.Checkpoints[tp]; ok {
				p.next, p.pos, p.records = c.Next, c.Next, c.Records
				if c.Start != nil {
					p.start = *c.Start
				}
			} else {
				p.next, p.pos = -1, -1
			}
			s.parts[tp] = p
			s.order = append(s.order, p)
		}
	}
	for tp, exp := range snap.Expired {
		for _, e := range exp {
			s.m.stats.update(func(st *Stats, _ func(state.TopicPartition) *PartitionStats) {
				st.Expired = appendExpired(st.Expired, tp, e)
			})
		}
	}
	return nil
}

func appendExpired(list []ExpiredRange, tp state.TopicPartition, e state.Expired) []ExpiredRange {
	r := ExpiredRange{Topic: tp.Topic, Partition: tp.Partition, From: e.From, Until: e.Until, Count: e.Count()}
	if slices.Contains(list, r) {
		return list
	}
	return append(list, r)
}

func topicErr(err error) error {
	if err == nil {
		return errors.New("does not exist")
	}
	return err
}

// recordLimits returns, per target topic, the largest record batch it
// accepts (max.message.bytes), and keeps them for the producer
// (maxBatchBytes).
func (s *session) recordLimits(ctx context.Context, topics []string) (map[string]int, error) {
	rcs, err := s.tgtAdm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe target topic configs: %w", err)
	}
	out := map[string]int{}
	for _, rc := range rcs {
		limit := 1048588 // Kafka's default message.max.bytes
		for _, c := range rc.Configs {
			if c.Key == "max.message.bytes" && c.Value != nil {
				fmt.Sscan(*c.Value, &limit)
			}
		}
		out[rc.Name] = limit
	}
	s.batchLimits.Store(&out)
	return out, nil
}

// maxBatchBytes is the producer's batch size limit for topic: the target
// topic's max.message.bytes, so that batching records that each fit never
// makes a batch the target refuses. franz-go asks when it first produces to
// a partition, after buildParts stored the limits.
func (s *session) maxBatchBytes(topic string) int32 {
	if limits := s.batchLimits.Load(); limits != nil {
		if l, ok := (*limits)[topic]; ok {
			return int32(min(max(l, 512), 1<<30)) // the range franz-go accepts
		}
	}
	return 1_000_012 // franz-go's default, below the brokers' (the state topic)
}

// recordEnds records the end offsets of a bounded copy, once per Run.
func (s *session) recordEnds(ctx context.Context) error {
	if s.settings.Until != config.UntilEnd {
		return nil
	}
	if s.m.ends == nil {
		var topics []string
		for _, t := range s.topics {
			topics = append(topics, t.Source)
		}
		ends, err := s.srcAdm.ListCommittedOffsets(ctx, topics...)
		if err != nil {
			return fmt.Errorf("source end offsets: %w", err)
		}
		s.m.ends = map[state.TopicPartition]int64{}
		var errs []error
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				errs = append(errs, fmt.Errorf("end offset of %s/%d: %w", o.Topic, o.Partition, o.Err))
			}
			s.m.ends[state.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset
		})
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	for _, p := range s.order {
		if e, ok := s.m.ends[p.tp]; ok {
			p.end = e
		} else {
			p.end = p.pos // a partition added since the copy started
		}
	}
	return nil
}

func (s *session) allDone() bool {
	if s.settings.Until != config.UntilEnd {
		return false
	}
	for _, p := range s.order {
		if !p.done() && s.m.stopped[p.tp] == nil {
			return false
		}
	}
	return true
}

// publish copies the session's positions into the shared stats.
func (s *session) publish() {
	s.m.stats.update(func(st *Stats, get func(state.TopicPartition) *PartitionStats) {
		for _, p := range s.order {
			ps := get(p.tp)
			ps.TargetTopic = p.target
			ps.Next, ps.End = p.next, p.end
			ps.HighWatermark = max(ps.HighWatermark, p.hwm)
			ps.Lag = max(0, ps.HighWatermark-p.next)
			if err := s.m.stopped[p.tp]; err != nil {
				ps.Stopped = err.Error()
			}
		}
	})
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	default:
		return kgo.NoCompression()
	}
}

// partitionFetchBytes is the per-partition fetch limit for a fetch of size
// bytes: at most half of it, so a partition's data never fills the whole
// response (kfake leaves the aborted-transactions list out of the partition
// that fills it; the mirror does not rely on the list, txn.go, but reading
// aborted records only to drop them is waste), and at most 8 MiB.
func partitionFetchBytes(size int32) int32 { return min(size/2, 8<<20) }

// buffers is how the memory budget is spent on records.
type buffers struct {
	// producer bounds the bytes buffered in the producer, which holds the
	// open transaction's records until they are acknowledged.
	producer int64
	// txn bounds a transaction's record bytes: the records stay
	// referenced until the commit.
	txn int64
	// fetch is the most one fetch response may carry.
	fetch int32
}

// splitBudget spends a memory budget. After the runtime overhead, a sixth
// goes to the producer (config.TransactionLimit, which also bounds each
// transaction: config refuses a larger transaction_max_bytes), a sixth to
// fetch buffers (fetchBytes), and the rest is headroom: the producer's
// request buffers, fetch responses kept alive by records that are still
// pending, held records of source transactions, and garbage between
// collections. Measured with the bench harness, this keeps peak RSS under
// the budget.
func splitBudget(budget, txnSetting int64) buffers {
	producer := config.TransactionLimit(budget)
	return buffers{producer: producer, txn: max(min(txnSetting, producer), config.MinTransactionMaxBytes)}
}

// fetchBytes sizes fetches so that all of them fit in a sixth of the
// usable budget: each source broker has one fetch in flight and one
// buffered, so a fetch may carry usable / (12 * brokers), between 1 MiB and
// 64 MiB.
func fetchBytes(budget int64, brokers int) int32 {
	usable := max(budget-config.RuntimeOverhead, 8<<20)
	return int32(min(max(usable/int64(12*max(brokers, 1)), 1<<20), 64<<20))
}
