package gateway

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// One offset space per switched topic, so that clients reading through
// the gateway keep their positions across a switch. At the switch the
// source partition ends at E (everything below is copied) and the target's
// next offset is N (the first record written natively after the switch).
// Through the gateway, offsets below E are the source's and offsets from E
// on are the target's shifted by E-N: the copies (target offsets below N)
// are never served, the source's originals are. A consumer at offset E
// reads the first native record next, and its committed offsets stay
// valid. Batch base offsets are outside the CRC, so shifting a fetched
// batch rewrites 8 bytes of its header.

// Base is the offset space of a switched topic, by partition.
type Base struct {
	// SourceEnds are the source end offsets at the switch (E).
	SourceEnds map[int32]int64 `json:"source_ends"`
	// TargetStarts are the target end offsets at the switch (N).
	TargetStarts map[int32]int64 `json:"target_starts"`
}

// split returns E and the shift (N-E) to add to a client offset at or
// past E to get the target's. A partition the source did not have (added
// on the target) has E = 0.
func (b *Base) split(p int32) (end, shift int64) {
	end = b.SourceEnds[p]
	return end, b.TargetStarts[p] - end
}

func baseRecord(topic string, b Base) *kgo.Record { return jsonFact(keyGateway+"/base/"+topic, b) }

// shiftBatches subtracts shift from the base offset of every record batch
// in raw (in place), including a partial batch at the end.
func shiftBatches(raw []byte, shift int64) {
	for len(raw) >= 8 {
		first := int64(binary.BigEndian.Uint64(raw))
		binary.BigEndian.PutUint64(raw, uint64(first-shift))
		if len(raw) < 12 {
			return
		}
		n := 12 + int(int32(binary.BigEndian.Uint32(raw[8:12])))
		if n <= 12 || n > len(raw) {
			return
		}
		raw = raw[n:]
	}
}

// shiftFetched moves a target partition's answer into the client's
// offset space.
func shiftFetched(p *kmsg.FetchResponseTopicPartition, shift int64) {
	shiftBatches(p.RecordBatches, shift)
	if p.HighWatermark >= 0 {
		p.HighWatermark -= shift
	}
	if p.LastStableOffset >= 0 {
		p.LastStableOffset -= shift
	}
	p.LogStartOffset = -1 // the source's, which this answer does not know
	for i := range p.AbortedTransactions {
		p.AbortedTransactions[i].FirstOffset -= shift
	}
}

func (s *Server) base(topic string) *Base {
	s.holdsMu.Lock()
	defer s.holdsMu.Unlock()
	return s.bases[topic]
}

func (s *Server) setBase(topic string, b *Base) {
	s.holdsMu.Lock()
	defer s.holdsMu.Unlock()
	s.bases[topic] = b
}
