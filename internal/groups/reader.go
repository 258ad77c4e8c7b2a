package groups

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partReader reads one partition with raw read_committed fetches sent to
// its leader: one request per fetch, so that callers can count and bound
// them (a kgo consumer prefetches and hides the count).
type partReader struct {
	cl        *kgo.Client
	topic     string
	partition int32
	maxBytes  int32

	leader  int32
	topicID [16]byte
	fetches int
}

func newPartReader(cl *kgo.Client, topic string, partition, maxBytes int32) *partReader {
	if maxBytes <= 0 {
		maxBytes = DefaultFetchMaxBytes
	}
	return &partReader{cl: cl, topic: topic, partition: partition, maxBytes: maxBytes}
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

// fetch sends one read_committed fetch for offset to the partition's
// leader, retrying after a leadership change.
func (s *partReader) fetch(ctx context.Context, offset int64) (kgo.FetchPartition, int64, error) {
	for attempt := 0; ; attempt++ {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 0
		req.MinBytes = 1
		req.MaxBytes = s.maxBytes
		req.IsolationLevel = 1
		req.SessionEpoch = -1
		t := kmsg.NewFetchRequestTopic()
		t.Topic, t.TopicID = s.topic, s.topicID
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = s.partition
		p.FetchOffset = offset
		p.PartitionMaxBytes = s.maxBytes
		p.CurrentLeaderEpoch, p.LastFetchedEpoch, p.LogStartOffset = -1, -1, -1
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)

		s.fetches++
		kresp, err := s.cl.Broker(int(s.leader)).Request(ctx, req)
		if err != nil {
			return kgo.FetchPartition{}, 0, fmt.Errorf("search %s/%d: fetch offset %d: %w", s.topic, s.partition, offset, err)
		}
		resp := kresp.(*kmsg.FetchResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return kgo.FetchPartition{}, 0, fmt.Errorf("search %s/%d: fetch offset %d: %w", s.topic, s.partition, offset, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return kgo.FetchPartition{}, 0, fmt.Errorf("search %s/%d: fetch offset %d: unexpected response shape", s.topic, s.partition, offset)
		}
		rp := &resp.Topics[0].Partitions[0]
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
			Offset:         offset,
			IsolationLevel: kgo.ReadCommitted(),
			Topic:          s.topic,
			Partition:      s.partition,
		}, rp, kgo.DefaultDecompressor(), nil)
		switch err := fp.Err; {
		case err == nil:
			return fp, next, nil
		case attempt < maxLeaderRetries && (errors.Is(err, kerr.NotLeaderForPartition) ||
			errors.Is(err, kerr.FencedLeaderEpoch) || errors.Is(err, kerr.UnknownLeaderEpoch) ||
			errors.Is(err, kerr.LeaderNotAvailable)):
			if err := s.refreshLeader(ctx); err != nil {
				return kgo.FetchPartition{}, 0, err
			}
		default:
			return kgo.FetchPartition{}, 0, fmt.Errorf("search %s/%d: fetch offset %d: %w", s.topic, s.partition, offset, err)
		}
	}
}
