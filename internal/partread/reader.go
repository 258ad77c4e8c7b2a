package partread

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DefaultRetries bounds the leader lookups (metadata refreshes) of one
// fetch after leadership moved.
const DefaultRetries = 3

// Locator finds the leader of a partition and its topic's id. Reader asks
// again with refresh set after the leader refused a fetch.
type Locator interface {
	Locate(ctx context.Context, topic string, partition int32, refresh bool) (leader int32, topicID [16]byte, err error)
}

// Counters count what Readers sent and read; several Readers may share one.
type Counters struct {
	// Fetches counts the requests sent, read-ahead and retries included.
	Fetches atomic.Int64
	// Bytes counts the record batch bytes received.
	Bytes atomic.Int64
	// Records counts the records delivered.
	Records atomic.Int64
}

// Reader reads one partition. Its methods are safe for concurrent use; the
// outcomes of transactions it learned by reading ahead are shared.
type Reader struct {
	cl        *kgo.Client
	loc       Locator
	topic     string
	partition int32
	maxBytes  int32

	// Label names the cluster in errors ("source", "target"); may be
	// empty.
	Label string
	// Retries bounds the leader lookups per fetch; 0 means
	// DefaultRetries.
	Retries int
	// Counters, if set, counts the reader's requests, bytes and records.
	Counters *Counters

	mu    sync.Mutex
	known map[int64][]outcome // producer id -> outcomes learned by reading ahead
}

// New returns a reader of topic/partition on cl whose fetches ask for at
// most maxBytes of the partition.
func New(cl *kgo.Client, loc Locator, topic string, partition, maxBytes int32) *Reader {
	return &Reader{cl: cl, loc: loc, topic: topic, partition: partition, maxBytes: max(maxBytes, 1)}
}

// Fetch sends one read_committed fetch at offset and returns the committed
// records at or after offset that the response holds (markers and records of
// aborted transactions removed, transactions resolved by the package rule),
// and the offset to fetch next: every committed record below it and at or
// after offset is in the result. An offset the partition no longer holds is
// an error wrapping kerr.OffsetOutOfRange.
func (r *Reader) Fetch(ctx context.Context, offset int64) (kgo.FetchPartition, int64, error) {
	part, err := r.raw(ctx, offset, r.maxBytes, true, 0)
	if err != nil {
		return kgo.FetchPartition{}, 0, err
	}
	fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		KeepControlRecords: true,
		Offset:             offset,
		IsolationLevel:     kgo.ReadUncommitted(),
		Topic:              r.topic,
		Partition:          r.partition,
	}, part, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil {
		return kgo.FetchPartition{}, 0, r.errAt(offset, fp.Err)
	}
	res := resolve(fp.Records, part.AbortedTransactions, r.lookup)
	if len(res.pending) > 0 {
		found, err := r.readAhead(ctx, next, res.pendingProducers())
		if err != nil {
			return kgo.FetchPartition{}, 0, err
		}
		r.learn(res, found)
		res.settle(found)
	}
	fp.Records = res.delivered()
	if r.Counters != nil {
		r.Counters.Records.Add(int64(len(fp.Records)))
	}
	return fp, next, nil
}

// lookup returns the outcome learned for producer pid's record at offset
// o, if any.
func (r *Reader) lookup(pid, o int64) (commit, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.known[pid] {
		if k.from <= o && o < k.marker {
			return k.commit, true
		}
	}
	return false, false
}

// maxKnown bounds the outcomes remembered per producer: a sequential reader
// needs the last one, a binary search a few. maxProducers bounds the
// producers remembered: past it the memory starts again empty (a later
// fetch may then read ahead again, which costs time, never correctness).
const (
	maxKnown     = 8
	maxProducers = 1024
)

// learn remembers the outcomes read ahead for res's pending producers.
func (r *Reader) learn(res *resolution, found map[int64]marker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known == nil || len(r.known) >= maxProducers {
		r.known = map[int64][]outcome{}
	}
	for pid, m := range found {
		o := outcome{from: res.firstPending[pid], marker: m.offset, commit: m.commit}
		ks := append(r.known[pid], o)
		if len(ks) > maxKnown {
			ks = ks[len(ks)-maxKnown:]
		}
		r.known[pid] = ks
	}
}

func (r *Reader) errAt(offset int64, err error) error {
	label := r.Label
	if label != "" {
		label += " "
	}
	return fmt.Errorf("fetch %s%s/%d at offset %d: %w", label, r.topic, r.partition, offset, err)
}

// leaderErr reports whether err says the fetch went to a broker that no
// longer leads the partition (or does not know it yet).
func leaderErr(err error) bool {
	return errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.FencedLeaderEpoch) ||
		errors.Is(err, kerr.UnknownLeaderEpoch) || errors.Is(err, kerr.LeaderNotAvailable) ||
		errors.Is(err, kerr.UnknownTopicOrPartition)
}

// raw sends one fetch of the partition at offset to its leader, retrying
// after leadership moved, and returns the partition's response.
func (r *Reader) raw(ctx context.Context, offset int64, maxBytes int32, committed bool, waitMillis int32) (*kmsg.FetchResponseTopicPartition, error) {
	retries := r.Retries
	if retries <= 0 {
		retries = DefaultRetries
	}
	refresh := false
	for attempt := 0; ; attempt++ {
		leader, id, err := r.loc.Locate(ctx, r.topic, r.partition, refresh)
		if err != nil {
			if attempt < retries && errors.Is(err, kerr.UnknownTopicOrPartition) {
				refresh = true
				continue
			}
			return nil, r.errAt(offset, err)
		}
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = waitMillis
		req.MinBytes = 1
		// Clearly above the partition's limit: kfake leaves the aborted
		// list out of a response that reaches the request's limit.
		req.MaxBytes = requestMaxBytes(maxBytes)
		if committed {
			req.IsolationLevel = 1
		}
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = r.topic, id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = r.partition
		rp.FetchOffset = offset
		rp.PartitionMaxBytes = maxBytes
		rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)

		if r.Counters != nil {
			r.Counters.Fetches.Add(1)
		}
		kresp, err := r.cl.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			return nil, r.errAt(offset, err)
		}
		resp := kresp.(*kmsg.FetchResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, r.errAt(offset, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return nil, r.errAt(offset, errors.New("unexpected response shape"))
		}
		part := &resp.Topics[0].Partitions[0]
		err = kerr.ErrorForCode(part.ErrorCode)
		switch {
		case err == nil:
			if r.Counters != nil {
				r.Counters.Bytes.Add(int64(len(part.RecordBatches)))
			}
			return part, nil
		case attempt < retries && leaderErr(err):
			refresh = true
		default:
			return nil, r.errAt(offset, err)
		}
	}
}

// requestMaxBytes is the request-wide limit for a partition limit of p:
// at least twice p and 16 MiB more than p. A one-partition response is
// bounded by p anyway (plus the first batch, always returned whole), so the
// request limit costs no memory; it is set high so that a response never
// reaches it (kfake checks it before the partition's limit, so a batch
// that crosses both would end the response at the request's limit, without
// the aborted list).
func requestMaxBytes(p int32) int32 {
	const maxInt32 = 1<<31 - 1
	if p >= maxInt32/2-16<<20 {
		return maxInt32
	}
	return max(2*p, p+16<<20)
}

// Leaders is a Locator that caches one metadata response per topic. It is
// safe for concurrent use.
type Leaders struct {
	cl    *kgo.Client
	label string

	mu     sync.Mutex
	topics map[string]topicMeta
}

type topicMeta struct {
	id      [16]byte
	leaders map[int32]int32
}

// NewLeaders returns a Locator reading metadata from cl; label names the
// cluster in errors.
func NewLeaders(cl *kgo.Client, label string) *Leaders {
	return &Leaders{cl: cl, label: label, topics: map[string]topicMeta{}}
}

// Locate implements Locator. A partition without a leader in the metadata
// is an error wrapping kerr.UnknownTopicOrPartition.
func (l *Leaders) Locate(ctx context.Context, topic string, partition int32, refresh bool) (int32, [16]byte, error) {
	l.mu.Lock()
	m, ok := l.topics[topic]
	l.mu.Unlock()
	if !ok || refresh {
		leaders, id, err := TopicLeaders(ctx, l.cl, topic)
		if err != nil {
			return 0, [16]byte{}, fmt.Errorf("%s metadata of %s: %w", l.label, topic, err)
		}
		m = topicMeta{id: id, leaders: leaders}
		l.mu.Lock()
		l.topics[topic] = m
		l.mu.Unlock()
	}
	leader, ok := m.leaders[partition]
	if !ok {
		return 0, [16]byte{}, kerr.UnknownTopicOrPartition
	}
	return leader, m.id, nil
}

// TopicLeaders returns the leader of each partition of topic, and the
// topic's id, from one metadata request. Partitions with an error (no
// leader right now) are left out.
func TopicLeaders(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int32, [16]byte, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, [16]byte{}, fmt.Errorf("metadata: %w", err)
	}
	if len(resp.Topics) != 1 {
		return nil, [16]byte{}, fmt.Errorf("metadata returned %d topics", len(resp.Topics))
	}
	rt := resp.Topics[0]
	if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
		return nil, [16]byte{}, fmt.Errorf("metadata: %w", err)
	}
	out := make(map[int32]int32, len(rt.Partitions))
	for _, p := range rt.Partitions {
		if kerr.ErrorForCode(p.ErrorCode) == nil {
			out[p.Partition] = p.Leader
		}
	}
	return out, rt.TopicID, nil
}
