package groups

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/partread"
)

// partReader reads one partition with raw read_committed fetches sent to
// its leader (partread: one request per fetch, so that callers can count
// and bound them, and records of aborted transactions dropped whether or
// not the broker lists them). It is partread's Locator: the leader and
// topic id are its fields, set by refreshLeader or by the caller from a
// metadata response it already has.
type partReader struct {
	cl        *kgo.Client
	topic     string
	partition int32

	leader  int32
	topicID [16]byte
	// fetches counts the requests sent, read-ahead for transaction
	// markers included.
	fetches int

	rd     *partread.Reader
	counts partread.Counters
}

func newPartReader(cl *kgo.Client, topic string, partition, maxBytes int32) *partReader {
	if maxBytes <= 0 {
		maxBytes = DefaultFetchMaxBytes
	}
	s := &partReader{cl: cl, topic: topic, partition: partition}
	s.rd = partread.New(cl, s, topic, partition, maxBytes)
	s.rd.Retries, s.rd.Counters = maxLeaderRetries, &s.counts
	return s
}

// Locate implements partread.Locator with the reader's own leader.
func (s *partReader) Locate(ctx context.Context, _ string, _ int32, refresh bool) (int32, [16]byte, error) {
	if refresh {
		if err := s.refreshLeader(ctx); err != nil {
			return 0, [16]byte{}, err
		}
	}
	return s.leader, s.topicID, nil
}

func (s *partReader) refreshLeader(ctx context.Context) error {
	leaders, id, err := topicLeaders(ctx, s.cl, s.topic)
	if err != nil {
		return fmt.Errorf("search %s/%d: %w", s.topic, s.partition, err)
	}
	l, ok := leaders[s.partition]
	if !ok {
		return fmt.Errorf("search %s/%d: %w", s.topic, s.partition, kerr.UnknownTopicOrPartition)
	}
	s.leader, s.topicID = l, id
	return nil
}

// topicLeaders returns the leader of each partition of topic, and the
// topic's id, from one metadata request. Partitions with an error (no
// leader right now) are left out.
func topicLeaders(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int32, [16]byte, error) {
	return partread.TopicLeaders(ctx, cl, topic)
}

// fetch sends one read_committed fetch for offset to the partition's
// leader, retrying after a leadership change, and returns the committed
// records at or after offset it holds and the offset to fetch next.
func (s *partReader) fetch(ctx context.Context, offset int64) (kgo.FetchPartition, int64, error) {
	fp, next, err := s.rd.Fetch(ctx, offset)
	s.fetches = int(s.counts.Fetches.Load())
	if err != nil {
		return kgo.FetchPartition{}, 0, fmt.Errorf("search %s/%d: %w", s.topic, s.partition, err)
	}
	return fp, next, nil
}
