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

	"github.com/kmigrate/kmigrate/internal/partread"
)

// fetcher sends raw read_committed fetches to the leaders of one cluster's
// partitions through partread: one request per fetch, one partition per
// request, so that what is held in memory is exactly the responses being
// read (a kgo consumer buffers and prefetches on its own terms), and
// records of aborted transactions are dropped whether or not the broker
// lists them (see partread).
type fetcher struct {
	cl      *kgo.Client
	side    string // "source" or "target", for errors
	leaders *partread.Leaders

	mu      sync.Mutex
	readers map[readerKey]*partread.Reader

	counts partread.Counters
	// fetches, bytes and records point into counts.
	fetches, bytes, records *atomic.Int64
}

// readerKey names a partition reader: one per partition and fetch size, so
// that the outcomes of transactions one of them read ahead serve its next
// fetches.
type readerKey struct {
	topic     string
	partition int32
	maxBytes  int32
}

func newFetcher(cl *kgo.Client, side string) *fetcher {
	f := &fetcher{cl: cl, side: side, leaders: partread.NewLeaders(cl, side), readers: map[readerKey]*partread.Reader{}}
	f.fetches, f.bytes, f.records = &f.counts.Fetches, &f.counts.Bytes, &f.counts.Records
	return f
}

// reader returns the partition reader of topic/partition for maxBytes.
func (f *fetcher) reader(topic string, partition, maxBytes int32) *partread.Reader {
	k := readerKey{topic, partition, maxBytes}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.readers[k]
	if r == nil {
		r = partread.New(f.cl, f.leaders, topic, partition, maxBytes)
		r.Label, r.Counters = f.side, &f.counts
		f.readers[k] = r
	}
	return r
}

// fetch sends one read_committed fetch of topic/partition at offset and
// returns the decoded partition (records of aborted transactions and
// control records removed) and the offset to fetch next. An offset the
// partition no longer holds is an error wrapping kerr.OffsetOutOfRange.
func (f *fetcher) fetch(ctx context.Context, topic string, partition int32, offset int64, maxBytes int32) (kgo.FetchPartition, int64, error) {
	return f.reader(topic, partition, maxBytes).Fetch(ctx, offset)
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
