package gateway

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadata answers with the gateway as the only broker, leading every
// partition of the topics it serves: every client connection then goes
// through it, whatever cluster a topic lives on. Partition counts come
// from the cluster the topic is routed to (one upstream request per
// cluster). Leader epochs are -1 (unknown), so clients never compare the
// source's epochs with the target's. Topics outside the migration are
// refused with TOPIC_AUTHORIZATION_FAILED: the gateway must not let a
// client write where no mirror copies.
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
	// Where each topic is read from, and its name there.
	names := map[Side][]string{}
	for _, t := range topics {
		if route, ok := s.routes[t]; ok {
			side := readSide(route)
			_, name := s.upstreamFor(side, t)
			names[side] = append(names[side], name)
		}
	}
	described := map[Side]kadm.Metadata{}
	failed := map[Side]bool{}
	for side, ns := range names {
		up, _ := s.upstreamFor(side, "")
		md, err := up.adm.Metadata(ctx, ns...)
		if err != nil {
			s.log.Warn("upstream metadata failed", "upstream", side.String(), "topics", ns, "err", err)
			failed[side] = true
			continue
		}
		described[side] = md
	}
	for _, t := range topics {
		resp.Topics = append(resp.Topics, s.topicMetadata(t, described, failed))
	}
	return resp
}

// readSide is where a topic's reads and metadata come from: its route,
// except while a switch holds it (the source, as clients know it).
func readSide(r *topicRoute) Side {
	if side := r.current(); side != Holding {
		return side
	}
	return Source
}

func (s *Server) topicMetadata(topic string, described map[Side]kadm.Metadata, failed map[Side]bool) kmsg.MetadataResponseTopic {
	mt := kmsg.MetadataResponseTopic{Topic: &topic, AuthorizedOperations: -2147483648}
	route, ok := s.routes[topic]
	if !ok {
		s.log.Warn("refused a topic outside the migration", "topic", topic)
		mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
		return mt
	}
	side := readSide(route)
	_, name := s.upstreamFor(side, topic)
	td, ok := described[side].Topics[name]
	switch {
	case failed[side]:
		mt.ErrorCode = kerr.LeaderNotAvailable.Code
		return mt
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
