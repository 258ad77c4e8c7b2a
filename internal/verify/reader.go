package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxLeaderRetries bounds the metadata refreshes of one fetch after
// leadership moved.
const maxLeaderRetries = 3

// fetcher sends raw read_committed fetches to the leaders of one cluster's
// partitions: one request per fetch, one partition per request, so that
// what is held in memory is exactly the responses being read (a kgo
// consumer buffers and prefetches on its own terms).
type fetcher struct {
	cl   *kgo.Client
	side string // "source" or "target", for errors

	mu     sync.Mutex
	topics map[string]*topicMeta

	fetches, bytes, records atomic.Int64
}

type topicMeta struct {
	id      [16]byte
	leaders map[int32]int32
}

func newFetcher(cl *kgo.Client, side string) *fetcher {
	return &fetcher{cl: cl, side: side, topics: map[string]*topicMeta{}}
}

// meta returns the cached metadata of topic, reading it when missing or
// when refresh is set.
func (f *fetcher) meta(ctx context.Context, topic string, refresh bool) (*topicMeta, error) {
	f.mu.Lock()
	m := f.topics[topic]
	f.mu.Unlock()
	if m != nil && !refresh {
		return m, nil
	}
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, f.cl)
	if err != nil {
		return nil, fmt.Errorf("%s metadata of %s: %w", f.side, topic, err)
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("%s metadata of %s: %d topics in the response", f.side, topic, len(resp.Topics))
	}
	rt := resp.Topics[0]
	if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
		return nil, fmt.Errorf("%s metadata of %s: %w", f.side, topic, err)
	}
	m = &topicMeta{id: rt.TopicID, leaders: make(map[int32]int32, len(rt.Partitions))}
	for _, p := range rt.Partitions {
		if kerr.ErrorForCode(p.ErrorCode) == nil {
			m.leaders[p.Partition] = p.Leader
		}
	}
	f.mu.Lock()
	f.topics[topic] = m
	f.mu.Unlock()
	return m, nil
}

// fetch sends one read_committed fetch of topic/partition at offset and
// returns the decoded partition (records of aborted transactions and
// control records removed) and the offset to fetch next. An offset the
// partition no longer holds is an error wrapping kerr.OffsetOutOfRange.
func (f *fetcher) fetch(ctx context.Context, topic string, partition int32, offset int64, maxBytes int32) (kgo.FetchPartition, int64, error) {
	where := func(err error) error {
		return fmt.Errorf("fetch %s %s/%d at offset %d: %w", f.side, topic, partition, offset, err)
	}
	refresh := false
	for attempt := 0; ; attempt++ {
		m, err := f.meta(ctx, topic, refresh)
		if err != nil {
			return kgo.FetchPartition{}, 0, err
		}
		leader, ok := m.leaders[partition]
		if !ok {
			if attempt < maxLeaderRetries {
				refresh = true
				continue
			}
			return kgo.FetchPartition{}, 0, where(kerr.UnknownTopicOrPartition)
		}
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 0
		req.MinBytes = 1
		req.MaxBytes = maxBytes
		req.IsolationLevel = 1
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, m.id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = partition
		rp.FetchOffset = offset
		rp.PartitionMaxBytes = maxBytes
		rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)

		f.fetches.Add(1)
		kresp, err := f.cl.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			return kgo.FetchPartition{}, 0, where(err)
		}
		resp := kresp.(*kmsg.FetchResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return kgo.FetchPartition{}, 0, where(err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return kgo.FetchPartition{}, 0, where(errors.New("unexpected response shape"))
		}
		part := &resp.Topics[0].Partitions[0]
		f.bytes.Add(int64(len(part.RecordBatches)))
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
			Offset:         offset,
			IsolationLevel: kgo.ReadCommitted(),
			Topic:          topic,
			Partition:      partition,
		}, part, kgo.DefaultDecompressor(), nil)
		switch err := fp.Err; {
		case err == nil:
			f.records.Add(int64(len(fp.Records)))
			return fp, next, nil
		case attempt < maxLeaderRetries && (errors.Is(err, kerr.NotLeaderForPartition) ||
			errors.Is(err, kerr.FencedLeaderEpoch) || errors.Is(err, kerr.UnknownLeaderEpoch) ||
			errors.Is(err, kerr.LeaderNotAvailable) || errors.Is(err, kerr.UnknownTopicOrPartition)):
			refresh = true
		default:
			return kgo.FetchPartition{}, 0, where(err)
		}
	}
}

// startOffset lists the current log start offset of topic/partition.
func (f *fetcher) startOffset(ctx context.Context, topic string, partition int32) (int64, error) {
	starts, err := kadm.NewClient(f.cl).ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("%s start offset of %s/%d: %w", f.side, topic, partition, err)
	}
	s, ok := starts.Lookup(topic, partition)
	if !ok {
		return 0, fmt.Errorf("%s start offset of %s/%d: %w", f.side, topic, partition, kerr.UnknownTopicOrPartition)
	}
	if s.Err != nil {
		return 0, fmt.Errorf("%s start offset of %s/%d: %w", f.side, topic, partition, s.Err)
	}
	return s.Offset, nil
}

// stream reads the committed records of one partition in [from, until), in
// order, one fetch ahead of its reader: a goroutine keeps one fetch in
// flight and one response waiting, so a stream holds about three responses
// at most. Offsets that leave the partition while it is read (retention,
// DeleteRecords) are skipped and remembered in Deleted.
type stream struct {
	ch     chan chunk
	cancel context.CancelFunc
	done   chan struct{}

	cur []*kgo.Record
	err error
	end bool
	// Deleted are the ranges that left the partition before they were
	// read, in order; a range is known before any record after it.
	Deleted []Range
}

type chunk struct {
	recs    []*kgo.Record
	deleted *Range
	err     error
}

// stream starts reading [from, until) of topic/partition.
func (f *fetcher) stream(ctx context.Context, topic string, partition int32, from, until int64, maxBytes int32) *stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{ch: make(chan chunk, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.ch)
		send := func(c chunk) bool {
			select {
			case s.ch <- c:
				return true
			case <-ctx.Done():
				return false
			}
		}
		stalls := 0
		for pos := from; pos < until; {
			fp, next, err := f.fetch(ctx, topic, partition, pos, maxBytes)
			if errors.Is(err, kerr.OffsetOutOfRange) {
				start, lerr := f.startOffset(ctx, topic, partition)
				if lerr != nil || start <= pos {
					send(chunk{err: errors.Join(err, lerr)})
					return
				}
				d := Range{From: pos, Until: min(start, until)}
				if !send(chunk{deleted: &d}) {
					return
				}
				pos = d.Until
				continue
			}
			if err != nil {
				send(chunk{err: err})
				return
			}
			if next <= pos {
				// Nothing readable at pos: the partition ends there.
				if fp.LastStableOffset <= pos || stalls >= 3 {
					send(chunk{err: fmt.Errorf("%s %s/%d: nothing readable at offset %d (last stable offset %d), before offset %d: %w",
						f.side, topic, partition, pos, fp.LastStableOffset, until, errTruncated)})
					return
				}
				stalls++
				continue
			}
			stalls = 0
			recs := fp.Records
			for i, r := range recs {
				if r.Offset >= until {
					recs = recs[:i]
					break
				}
			}
			pos = next
			if len(recs) > 0 && !send(chunk{recs: recs}) {
				return
			}
		}
	}()
	return s
}

// errTruncated: a partition ends before the offset it should reach.
var errTruncated = errors.New("partition ends early")

// next returns the next record, nil at the end of the range.
func (s *stream) next() (*kgo.Record, error) {
	for len(s.cur) == 0 {
		if s.err != nil || s.end {
			return nil, s.err
		}
		c, ok := <-s.ch
		switch {
		case !ok:
			s.end = true
		case c.err != nil:
			s.err = c.err
		case c.deleted != nil:
			s.Deleted = append(s.Deleted, *c.deleted)
		default:
			s.cur = c.recs
		}
	}
	r := s.cur[0]
	s.cur[0] = nil
	s.cur = s.cur[1:]
	return r, nil
}

// close stops the reading goroutine and waits for it.
func (s *stream) close() {
	s.cancel()
	<-s.done
}

// deletedAt reports whether offset o lies in a range deleted while reading.
func (s *stream) deletedAt(o int64) bool {
	for _, d := range s.Deleted {
		if o >= d.From && o < d.Until {
			return true
		}
	}
	return false
}
