package groups

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/trace"
)

// Record describes the record a translated offset points at, read from
// the cluster it was translated to: what Migrate prints, and its check
// that the offset map matches the data.
type Record struct {
	// Offset is the record's offset.
	Offset int64 `json:"offset"`
	// Origin is the source offset its tracing header names; -1 without
	// a tracing header (headers off, or a record written natively).
	Origin int64 `json:"origin"`
	// Key is the key, printable: UTF-8 as is (cut at 64 bytes), other
	// bytes in hex; "" for a null key.
	Key       string    `json:"key"`
	Timestamp time.Time `json:"timestamp"`
}

// maxKey bounds the printed key.
const maxKey = 64

func printableKey(k []byte) string {
	if k == nil {
		return ""
	}
	cut := k
	if len(cut) > maxKey {
		cut = cut[:maxKey]
	}
	var s string
	if utf8.Valid(cut) {
		s = strconv.Quote(string(cut))
	} else {
		s = fmt.Sprintf("0x%x", cut)
	}
	if len(k) > maxKey {
		s += "..."
	}
	return s
}

// pointer reads single records by offset, one fetch each, caching each
// partition's leader.
type pointer struct {
	cl *kgo.Client

	mu      sync.Mutex
	readers map[string]map[int32]*partReader
}

func newPointer(cl *kgo.Client) *pointer {
	return &pointer{cl: cl, readers: map[string]map[int32]*partReader{}}
}

func (p *pointer) reader(ctx context.Context, topic string, partition int32) (*partReader, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.readers[topic][partition]; r != nil {
		return r, nil
	}
	// One metadata request per topic, not per partition: a group can
	// span a thousand partitions of one topic. A partition it did not
	// name (no leader at the time) gets its own request.
	if p.readers[topic] == nil {
		leaders, id, err := topicLeaders(ctx, p.cl, topic)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", topic, err)
		}
		p.readers[topic] = map[int32]*partReader{}
		for part, l := range leaders {
			// Only the first records are needed; a small response bounds
			// the cost (brokers still return one whole batch).
			r := newPartReader(p.cl, topic, part, 64<<10)
			r.leader, r.topicID = l, id
			p.readers[topic][part] = r
		}
		if r := p.readers[topic][partition]; r != nil {
			return r, nil
		}
	}
	r := newPartReader(p.cl, topic, partition, 64<<10)
	if err := r.refreshLeader(ctx); err != nil {
		return nil, err
	}
	p.readers[topic][partition] = r
	return r, nil
}

// at returns the first committed record at or after offset in
// topic/partition, or ok = false when the partition holds none (offset is
// at its end). It does not treat a first record past offset as an error:
// the caller compares.
//
// A tracing header naming src gives the record's Origin (the source
// offset it copies); the zero src, for reads of the source in a rollback,
// takes no header for a copy.
func (p *pointer) at(ctx context.Context, topic string, partition int32, offset int64, src SourcePartition) (rec Record, ok bool, err error) {
	r, err := p.reader(ctx, topic, partition)
	if err != nil {
		return Record{}, false, err
	}
	from := offset
	for range probeFetches {
		fp, next, err := r.fetch(ctx, from)
		if errors.Is(err, kerr.OffsetOutOfRange) {
			return Record{}, false, fmt.Errorf("%s/%d: offset %d is outside the partition's log: the cluster no longer holds it (deleted by retention or DeleteRecords): %w", topic, partition, offset, err)
		}
		if err != nil {
			return Record{}, false, err
		}
		for _, kr := range fp.Records {
			if kr.Offset < offset {
				continue
			}
			rec = Record{Offset: kr.Offset, Origin: -1, Key: printableKey(kr.Key), Timestamp: kr.Timestamp.UTC()}
			o, k, err := trace.Of(kr.Headers, src)
			switch k {
			case trace.Corrupt:
				return Record{}, false, fmt.Errorf("%s/%d: offset %d: %w: %w", topic, partition, kr.Offset, ErrCorruptHeader, err)
			case trace.Copy:
				rec.Origin = o.Offset
			case trace.Sibling:
				return Record{}, false, fmt.Errorf("%s/%d: offset %d holds a copy of %s/%d offset %d, not of %s/%d: %w; was the target topic recreated?",
					topic, partition, kr.Offset, o.Topic, o.Partition, o.Offset, src.Topic, src.Partition, ErrMismatch)
			}
			return rec, true, nil
		}
		if next <= from {
			break // at the end of what is readable
		}
		from = next
	}
	return Record{}, false, nil
}

// natives counts the committed records in [from, to) of topic/partition
// and returns the offset of the first. Migrate calls it on the stretch
// between the last copy a group consumed and the copy of its next record:
// any record there was written natively on the target (the stretch holds
// no copy of the group's partition), so the group has not seen it. A from
// below the log start reads from the log start.
//
// A record there whose tracing header names src is a copy the offset map
// does not know: ErrMismatch.
func (p *pointer) natives(ctx context.Context, topic string, partition int32, from, to int64, src SourcePartition) (n, first int64, err error) {
	r, err := p.reader(ctx, topic, partition)
	if err != nil {
		return 0, 0, err
	}
	first = -1
	for from < to {
		fp, next, err := r.fetch(ctx, from)
		if errors.Is(err, kerr.OffsetOutOfRange) {
			starts, lerr := kadm.NewClient(p.cl).ListStartOffsets(ctx, topic)
			if s, ok := starts.Lookup(topic, partition); lerr == nil && ok && s.Err == nil && s.Offset > from {
				from = s.Offset
				continue
			}
		}
		if err != nil {
			return 0, 0, fmt.Errorf("read %s/%d from offset %d: %w", topic, partition, from, err)
		}
		for _, kr := range fp.Records {
			if kr.Offset < from || kr.Offset >= to {
				continue
			}
			o, k, err := trace.Of(kr.Headers, src)
			switch k {
			case trace.Corrupt:
				return 0, 0, fmt.Errorf("%s/%d: offset %d: %w: %w", topic, partition, kr.Offset, ErrCorruptHeader, err)
			case trace.Copy:
				return 0, 0, fmt.Errorf("%s/%d: offset %d holds the copy of source offset %d, which the offset map does not place there: %w; was the target topic recreated?",
					topic, partition, kr.Offset, o.Offset, ErrMismatch)
			}
			if first < 0 {
				first = kr.Offset
			}
			n++
		}
		if next <= from {
			break
		}
		from = next
	}
	return n, first, nil
}
