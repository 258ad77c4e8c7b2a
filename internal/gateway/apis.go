package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// versionRange is the versions of one API the gateway implements.
type versionRange struct{ min, max int16 }

// implemented is every API the gateway answers, with its versions. The
// bounds are chosen, not inherited: Metadata stops at v9 so that no topic
// id is ever advertised (a topic switched to the target would change id),
// Produce starts at v3 (record batches v2, which carry the producer
// fields), and nothing transactional is listed (docs/gateway.md).
var implemented = withGroups(map[int16]versionRange{
	kmsg.Produce.Int16():        {3, 10},
	kmsg.Fetch.Int16():          {4, 12},
	kmsg.ListOffsets.Int16():    {1, 7},
	kmsg.Metadata.Int16():       {1, 9},
	kmsg.ApiVersions.Int16():    {0, 3},
	kmsg.InitProducerID.Int16(): {0, 4},
	// SASL/PLAIN with Kafka framing (handshake v1); refused with
	// UNSUPPORTED_SASL_MECHANISM when no users are configured.
	kmsg.SASLHandshake.Int16():    {1, 1},
	kmsg.SASLAuthenticate.Int16(): {0, 2},
})

// withGroups adds the group APIs (groups.go) to m.
func withGroups(m map[int16]versionRange) map[int16]versionRange {
	for k, r := range groupAPIs {
		m[k] = r
	}
	m[kmsg.FindCoordinator.Int16()] = versionRange{0, 3}
	return m
}

func supported(key, version int16) bool {
	r, ok := implemented[key]
	return ok && version >= r.min && version <= r.max
}

// apiVersions answers ApiVersions; unsupported answers a version the
// gateway does not speak with UNSUPPORTED_VERSION and the list, as
// brokers do.
func apiVersions(req *kmsg.ApiVersionsRequest, unsupported bool) *kmsg.ApiVersionsResponse {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if unsupported {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
	}
	keys := make([]int16, 0, len(implemented))
	for k := range implemented {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := implemented[k]
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: r.min, MaxVersion: r.max})
	}
	return resp
}

// producerIDs hands out producer ids for clients. They are random 62-bit
// numbers, so that gateways of one migration, and a restarted gateway,
// do not hand out the same id without coordinating (a collision needs
// about 2^31 producers).
type producerIDs struct {
	mu   sync.Mutex
	seen map[int64]bool
}

func newProducerIDs() *producerIDs { return &producerIDs{seen: map[int64]bool{}} }

func (p *producerIDs) next() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		var b [8]byte
		rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
		id := int64(binary.BigEndian.Uint64(b[:]) >> 2)
		if id > 0 && !p.seen[id] {
			p.seen[id] = true
			return id
		}
	}
}

// initProducerID gives an idempotent client its producer id. The id is
// the gateway's, not a cluster's: the gateway deduplicates the client's
// batches itself and writes upstream with its own idempotent producer, so
// the id stays valid whichever cluster the topic is routed to. A client
// bumping its epoch (KIP-360, v3+) gets a fresh id.
//
// Transactional clients are refused: a transaction would span the switch.
func (s *Server) initProducerID(req *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	if req.TransactionalID != nil {
		s.log.Warn("refused a transactional producer: the gateway serves idempotent and plain producers only", "transactional_id", *req.TransactionalID)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		return resp
	}
	if req.ProducerID >= 0 && req.Version >= 3 {
		s.seqs.forget(req.ProducerID)
	}
	resp.ProducerID = s.pids.next()
	resp.ProducerEpoch = 0
	return resp
}
