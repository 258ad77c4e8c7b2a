package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// seqHeader is the one header every seeded record carries (the record's
// index), so that a copy that drops or changes headers fails the check.
const seqHeader = "peerbench-seq"

// baseTimestamp is record 0's timestamp (CreateTime); record i has
// baseTimestamp+i ms, so that a copy that restamps records fails the check.
var baseTimestamp = time.UnixMilli(1_764_633_600_000)

// record returns record i of the spec for topic, with its header and
// timestamp.
func record(s *workload.Spec, topic string, i int) *kgo.Record {
	return &kgo.Record{
		Topic: topic, Partition: s.Partition(i), Key: s.Key(i), Value: s.Value(i),
		Timestamp: baseTimestamp.Add(time.Duration(i) * time.Millisecond),
		Headers:   []kgo.RecordHeader{{Key: seqHeader, Value: strconv.AppendInt(nil, int64(i), 10)}},
	}
}

// Sum is the count and order-sensitive digest of one partition's records:
// key, value, timestamp and the seeded header, each with its length.
type Sum struct {
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
	Digest  uint32 `json:"digest"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Add folds one record into the sum. Only the seeded header counts; the
// caller reports any other header as added by the tool.
func (s *Sum) Add(key, value []byte, ts int64, seq []byte) {
	var b [20]byte
	binary.BigEndian.PutUint32(b[0:], uint32(len(key)))
	binary.BigEndian.PutUint32(b[4:], uint32(len(value)))
	binary.BigEndian.PutUint64(b[8:], uint64(ts))
	binary.BigEndian.PutUint32(b[16:], uint32(len(seq)))
	s.Digest = crc32.Update(s.Digest, castagnoli, b[:])
	s.Digest = crc32.Update(s.Digest, castagnoli, key)
	s.Digest = crc32.Update(s.Digest, castagnoli, value)
	s.Digest = crc32.Update(s.Digest, castagnoli, seq)
	s.Records++
	s.Bytes += int64(len(key) + len(value))
}

// expected is the per-partition sum of a complete, in-order copy.
func expected(s *workload.Spec) []Sum {
	sums := make([]Sum, s.Partitions)
	for i := range s.Records {
		r := record(s, "", i)
		sums[r.Partition].Add(r.Key, r.Value, r.Timestamp.UnixMilli(), r.Headers[0].Value)
	}
	return sums
}

// Copy is what reading a copy back found.
type Copy struct {
	Sums []Sum `json:"sums"`
	// Added counts, by header key, the headers a tool added to records.
	Added map[string]int64 `json:"added_headers,omitempty"`
	// NoSeq counts records without the seeded header.
	NoSeq int64 `json:"records_without_seq_header,omitempty"`
}

// add folds one read record into the copy.
func (c *Copy) add(r *kgo.Record) {
	var seq []byte
	found := false
	for _, h := range r.Headers {
		if h.Key == seqHeader && !found {
			seq, found = h.Value, true
			continue
		}
		if c.Added == nil {
			c.Added = map[string]int64{}
		}
		c.Added[h.Key]++
	}
	if !found {
		c.NoSeq++
	}
	c.Sums[r.Partition].Add(r.Key, r.Value, r.Timestamp.UnixMilli(), seq)
}

// compare describes how got differs from want, or returns "" when every
// partition has the same records in the same order.
func compare(want []Sum, got Copy) string {
	if len(want) != len(got.Sums) {
		return fmt.Sprintf("%d partitions, want %d", len(got.Sums), len(want))
	}
	var wantN, gotN int64
	for p := range want {
		wantN += want[p].Records
		gotN += got.Sums[p].Records
	}
	if got.NoSeq > 0 {
		return fmt.Sprintf("%d records lost the %s header", got.NoSeq, seqHeader)
	}
	for p, w := range want {
		switch g := got.Sums[p]; {
		case w.Records != g.Records:
			return fmt.Sprintf("%d records in total, want %d; partition %d has %d, want %d", gotN, wantN, p, g.Records, w.Records)
		case w.Bytes != g.Bytes:
			return fmt.Sprintf("partition %d: %d records as expected but %d key+value bytes, want %d", p, g.Records, g.Bytes, w.Bytes)
		case w.Digest != g.Digest:
			return fmt.Sprintf("partition %d: %d records as expected but a different key, value, timestamp, header or order (digest %08x, want %08x)", p, g.Records, g.Digest, w.Digest)
		}
	}
	return ""
}

// readTopic reads topic from its start to its last stable offset at
// read_committed and folds every record into a Copy.
func readTopic(ctx context.Context, bootstrap []string, topic string, partitions int) (Copy, error) {
	c := Copy{Sums: make([]Sum, partitions)}
	var mu sync.Mutex
	err := scan(ctx, bootstrap, topic, func(r *kgo.Record) error {
		if int(r.Partition) >= partitions {
			return fmt.Errorf("topic %q has partition %d, want %d partitions", topic, r.Partition, partitions)
		}
		mu.Lock()
		c.add(r)
		mu.Unlock()
		return nil
	})
	return c, err
}

// scan calls visit for every record of topic between the partitions' start
// and last stable offsets, read_committed, in offset order per partition.
func scan(ctx context.Context, bootstrap []string, topic string, visit func(*kgo.Record) error) error {
	adm, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer adm.Close()
	ac := kadm.NewClient(adm)
	starts, err := ac.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("list start offsets of %q: %w", topic, err)
	}
	ends, err := ac.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("list end offsets of %q: %w", topic, err)
	}
	from := map[int32]kgo.Offset{}
	last := map[int32]int64{}
	for p, e := range ends[topic] {
		s, _ := starts.Lookup(topic, p)
		if e.Offset > s.Offset {
			from[p] = kgo.NewOffset().At(s.Offset)
			last[p] = e.Offset - 1
		}
	}
	if len(from) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // markers take offsets, up to the end offset
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	pending := len(from)
	for pending > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			for _, r := range fp.Records {
				if ferr != nil || r.Offset > last[fp.Partition] {
					break
				}
				if !r.Attrs.IsControl() {
					ferr = visit(r)
				}
				if r.Offset == last[fp.Partition] {
					pending--
				}
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// addedSummary formats what a tool added to records, sorted by key.
func addedSummary(added map[string]int64) string {
	if len(added) == 0 {
		return "nothing per record"
	}
	keys := make([]string, 0, len(added))
	for k := range added {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("header %q on %d records", k, added[k])
	}
	return s
}
