package gateway

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadata answers with the gateway as the only broker, leading every
// partition of the topics it serves: every client connection then goes
// through it, whatever cluster a topic lives on. Partition counts come
// from the cluster the topic is routed to. Leader epochs are -1 (unknown),
// so clients never compare the source's epochs with the target's.
// Topics outside the migration are refused with TOPIC_AUTHORIZATION_FAILED:
// the gateway must not let a client write where no mirror copies.
func (s *Server) metadata(ctx context.Context, req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: s.opts.NodeID, Host: s.host, Port: s.port}}
	resp.ControllerID = s.opts.NodeID
	resp.ClusterID = &s.opts.Migration
	var topics []string
	if req.Topics == nil {
		for t := range s.routes {
			topics = append(topics, t)
		}
		slices.Sort(topics)
	}
	for _, t := range req.Topics {
		if t.Topic != nil {
			topics = append(topics, *t.Topic)
		}
	}
	for _, t := range topics {
		resp.Topics = append(resp.Topics, s.topicMetadata(ctx, t))
	}
	return resp
}

func (s *Server) topicMetadata(ctx context.Context, topic string) kmsg.MetadataResponseTopic {
	mt := kmsg.MetadataResponseTopic{Topic: &topic, AuthorizedOperations: -2147483648}
	route, ok := s.routes[topic]
	if !ok {
		s.log.Warn("refused a topic outside the migration", "topic", topic)
		mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
		return mt
	}
	side := route.current()
	if side == Holding {
		// Partition counts are equal or larger on the target; the
		// source's describe the topic as clients know it.
		side = Source
	}
	up, name := s.upstreamFor(side, topic)
	md, err := up.adm.Metadata(ctx, name)
	if err != nil {
		s.log.Warn("upstream metadata failed", "upstream", side.String(), "topic", name, "err", err)
		mt.ErrorCode = kerr.LeaderNotAvailable.Code
		return mt
	}
	td, ok := md.Topics[name]
	switch {
	case !ok:
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return mt
	case td.Err != nil:
		mt.ErrorCode = errorCode(td.Err)
		return mt
	}
	node := []int32{s.opts.NodeID}
	for _, p := range td.Partitions.Sorted() {
		mt.Partitions = append(mt.Partitions, kmsg.MetadataResponseTopicPartition{
			Partition: p.Partition, Leader: s.opts.NodeID, LeaderEpoch: -1,
			Replicas: node, ISR: node,
		})
	}
	return mt
}
