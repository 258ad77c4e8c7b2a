package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// leaderCacheAge bounds how old the upstream leaders a fetch is routed by
// may be; a fetch that meets a moved leader fails with its error and the
// client retries.
const leaderCacheAge = 5 * time.Second

// fetchKey names one upstream fetch: a side and a leader there.
type fetchKey struct {
	side   Side
	leader int32
}

// fetch forwards each partition to the leader of the cluster its topic
// is routed to (the source while a switch holds it), one request per
// upstream leader, all at once, and merges the answers under the client's
// topic names. Record batches pass unchanged. The gateway keeps no fetch
// session: it answers session id 0, so clients send full fetches.
func (s *Server) fetch(ctx context.Context, req *kmsg.FetchRequest) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.SessionID != 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp
	}
	reqs := map[fetchKey]*kmsg.FetchRequest{}
	out := newFetchMerge(req, s.base)
	for _, t := range req.Topics {
		route, ok := s.routes[t.Topic]
		if !ok {
			out.failTopic(t, kerr.TopicAuthorizationFailed.Code)
			continue
		}
		side := readSide(route)
		var base *Base
		if side == Target {
			base = s.base(t.Topic)
		}
		leaders := map[Side]map[int32]int32{}
		for _, p := range t.Partitions {
			pside := side
			if base != nil {
				// Offsets below the source's end at the switch
				// are the source's (offsets.go).
				end, shift := base.split(p.Partition)
				if p.FetchOffset < end {
					pside = Source
				} else {
					p.FetchOffset += shift
				}
			}
			up, name := s.upstreamFor(pside, t.Topic)
			if leaders[pside] == nil {
				l, err := s.leaders(ctx, up, name)
				if err != nil {
					s.log.Warn("upstream metadata failed", "upstream", pside.String(), "topic", name, "err", err)
					l = map[int32]int32{}
				}
				leaders[pside] = l
			}
			leader, ok := leaders[pside][p.Partition]
			if !ok {
				out.failPartition(t.Topic, p.Partition, kerr.LeaderNotAvailable.Code)
				continue
			}
			k := fetchKey{pside, leader}
			ur := reqs[k]
			if ur == nil {
				ur = upstreamFetch(req)
				reqs[k] = ur
			}
			p.CurrentLeaderEpoch, p.LastFetchedEpoch = -1, -1
			addFetchPartition(ur, name, p)
			out.setName(pside, name, t.Topic)
		}
	}
	var wg sync.WaitGroup
	for k, ur := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			up, _ := s.upstreamFor(k.side, "")
			r, err := up.cl.Broker(int(k.leader)).Request(ctx, ur)
			out.add(k.side, ur, r, err)
		}()
	}
	wg.Wait()
	return out.response(resp)
}

// upstreamFetch returns an empty upstream fetch with req's limits. It
// starts from kmsg's defaults: a zero ReplicaState (a tagged field, valid
// from v15) is not the default, so franz-go would encode it, and Kafka
// rejects a v12 fetch carrying it ("Tag 1 is not valid for version 12")
// by closing the connection.
func upstreamFetch(req *kmsg.FetchRequest) *kmsg.FetchRequest {
	ur := kmsg.NewPtrFetchRequest()
	ur.ReplicaID, ur.SessionEpoch = -1, -1
	ur.MaxWaitMillis, ur.MinBytes, ur.MaxBytes, ur.IsolationLevel = req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.IsolationLevel
	return ur
}

func addFetchPartition(r *kmsg.FetchRequest, topic string, p kmsg.FetchRequestTopicPartition) {
	if n := len(r.Topics); n > 0 && r.Topics[n-1].Topic == topic {
		r.Topics[n-1].Partitions = append(r.Topics[n-1].Partitions, p)
		return
	}
	r.Topics = append(r.Topics, kmsg.FetchRequestTopic{Topic: topic, Partitions: []kmsg.FetchRequestTopicPartition{p}})
}

// leaders returns the leader of each partition of topic on up.
func (s *Server) leaders(ctx context.Context, up upstream, topic string) (map[int32]int32, error) {
	t := topic
	md, err := up.cl.RequestCachedMetadata(ctx, &kmsg.MetadataRequest{Topics: []kmsg.MetadataRequestTopic{{Topic: &t}}}, leaderCacheAge)
	if err != nil {
		return nil, err
	}
	out := map[int32]int32{}
	for _, mt := range md.Topics {
		if mt.Topic == nil || *mt.Topic != topic {
			continue
		}
		if mt.ErrorCode != 0 {
			return nil, fmt.Errorf("topic %s: %w", topic, kerr.ErrorForCode(mt.ErrorCode))
		}
		for _, p := range mt.Partitions {
			out[p.Partition] = p.Leader
		}
	}
	return out, nil
}

// upstreamTopic is a topic name on one side.
type upstreamTopic struct {
	side Side
	name string
}

// fetchMerge collects the partitions of a fetch response from upstream
// answers and local failures.
type fetchMerge struct {
	mu           sync.Mutex
	upstreamName map[upstreamTopic]string // -> client topic name
	parts        map[string][]kmsg.FetchResponseTopicPartition
	order        []string
	base         func(topic string) *Base
}

func newFetchMerge(req *kmsg.FetchRequest, base func(string) *Base) *fetchMerge {
	m := &fetchMerge{upstreamName: map[upstreamTopic]string{}, parts: map[string][]kmsg.FetchResponseTopicPartition{}, base: base}
	for _, t := range req.Topics {
		m.order = append(m.order, t.Topic)
	}
	return m
}

func (m *fetchMerge) setName(side Side, upstream, client string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.upstreamName[upstreamTopic{side, upstream}] = client
}

func (m *fetchMerge) failTopic(t kmsg.FetchRequestTopic, code int16) {
	for _, p := range t.Partitions {
		m.failPartition(t.Topic, p.Partition, code)
	}
}

func (m *fetchMerge) failPartition(topic string, partition int32, code int16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Records are empty, never null: librdkafka fails to parse a null
	// record set ("invalid MessageSetSize -1") and never sees the error.
	m.parts[topic] = append(m.parts[topic], kmsg.FetchResponseTopicPartition{
		Partition: partition, ErrorCode: code, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, PreferredReadReplica: -1,
		RecordBatches: []byte{},
	})
}

// add takes an upstream answer; a failed request fails its partitions
// with a retriable error.
func (m *fetchMerge) add(side Side, req *kmsg.FetchRequest, r kmsg.Response, err error) {
	if err != nil {
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				m.failPartition(m.clientName(side, t.Topic), p.Partition, kerr.RequestTimedOut.Code)
			}
		}
		return
	}
	resp := r.(*kmsg.FetchResponse)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range resp.Topics {
		name := m.upstreamName[upstreamTopic{side, t.Topic}]
		var base *Base
		if side == Target {
			base = m.base(name)
		}
		for _, p := range t.Partitions {
			if base != nil {
				_, shift := base.split(p.Partition)
				shiftFetched(&p, shift)
			}
			// Nothing may name an upstream broker or epoch.
			p.PreferredReadReplica = -1
			p.CurrentLeader = kmsg.FetchResponseTopicPartitionCurrentLeader{LeaderID: -1, LeaderEpoch: -1}
			p.DivergingEpoch = kmsg.FetchResponseTopicPartitionDivergingEpoch{Epoch: -1, EndOffset: -1}
			if p.RecordBatches == nil {
				p.RecordBatches = []byte{} // see failPartition
			}
			m.parts[name] = append(m.parts[name], p)
		}
	}
}

func (m *fetchMerge) clientName(side Side, upstream string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.upstreamName[upstreamTopic{side, upstream}]
}

func (m *fetchMerge) response(resp *kmsg.FetchResponse) *kmsg.FetchResponse {
	for _, t := range m.order {
		if ps, ok := m.parts[t]; ok {
			resp.Topics = append(resp.Topics, kmsg.FetchResponseTopic{Topic: t, Partitions: ps})
			delete(m.parts, t)
		}
	}
	return resp
}

// listOffsets answers each partition from the cluster its topic is routed
// to (kgo sends each to its leader). For a topic switched through a
// gateway (offsets.go) the earliest offset and timestamp lookups are the
// source's, and the latest offset and lookups past the source's end the
// target's, shifted.
func (s *Server) listOffsets(ctx context.Context, req *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range req.Topics {
		rt := kmsg.ListOffsetsResponseTopic{Topic: t.Topic}
		route, ok := s.routes[t.Topic]
		if !ok {
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, failedListed(p.Partition, kerr.TopicAuthorizationFailed.Code))
			}
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		side := readSide(route)
		var base *Base
		if side == Target {
			base = s.base(t.Topic)
		}
		first := side
		if base != nil {
			first = Source
		}
		got := s.listSide(ctx, req.IsolationLevel, first, t.Topic, t.Partitions)
		for _, p := range t.Partitions {
			lp := got[p.Partition]
			if base != nil && lp.ErrorCode == 0 && (p.Timestamp == -1 || (p.Timestamp >= 0 && lp.Offset < 0)) {
				lp = s.listShifted(ctx, req.IsolationLevel, t.Topic, p, base)
			}
			rt.Partitions = append(rt.Partitions, lp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// listShifted answers one partition from the target, in the client's
// offset space.
func (s *Server) listShifted(ctx context.Context, isolation int8, topic string, p kmsg.ListOffsetsRequestTopicPartition, base *Base) kmsg.ListOffsetsResponseTopicPartition {
	lp := s.listSide(ctx, isolation, Target, topic, []kmsg.ListOffsetsRequestTopicPartition{p})[p.Partition]
	if lp.ErrorCode == 0 && lp.Offset >= 0 {
		end, shift := base.split(p.Partition)
		lp.Offset = max(lp.Offset-shift, end)
	}
	return lp
}

// listSide lists partitions of topic on side, by partition; a partition
// without an answer has a retriable error.
func (s *Server) listSide(ctx context.Context, isolation int8, side Side, topic string, parts []kmsg.ListOffsetsRequestTopicPartition) map[int32]kmsg.ListOffsetsResponseTopicPartition {
	up, name := s.upstreamFor(side, topic)
	ur := &kmsg.ListOffsetsRequest{ReplicaID: -1, IsolationLevel: isolation, Topics: []kmsg.ListOffsetsRequestTopic{{Topic: name}}}
	for _, p := range parts {
		p.CurrentLeaderEpoch = -1
		ur.Topics[0].Partitions = append(ur.Topics[0].Partitions, p)
	}
	out := map[int32]kmsg.ListOffsetsResponseTopicPartition{}
	for _, p := range parts {
		out[p.Partition] = failedListed(p.Partition, kerr.RequestTimedOut.Code)
	}
	r, err := up.cl.Request(ctx, ur)
	if err != nil {
		s.log.Warn("upstream list offsets failed", "upstream", side.String(), "topic", name, "err", err)
		return out
	}
	for _, ut := range r.(*kmsg.ListOffsetsResponse).Topics {
		for _, p := range ut.Partitions {
			p.LeaderEpoch = -1
			out[p.Partition] = p
		}
	}
	return out
}

func failedListed(partition int32, code int16) kmsg.ListOffsetsResponseTopicPartition {
	return kmsg.ListOffsetsResponseTopicPartition{Partition: partition, ErrorCode: code, Timestamp: -1, Offset: -1, LeaderEpoch: -1}
}
