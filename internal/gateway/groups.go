package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kmigrate/kmigrate/internal/cluster"
)

// Consumer groups through the gateway stay on the source's coordinator:
// through the gateway a switched topic keeps one offset space
// (offsets.go), so the offsets a group commits there stay valid across a
// switch, and the group never moves while its clients use the gateway.
// The gateway names itself as every group's coordinator and forwards the
// group requests to the source's coordinator unchanged, at the client's
// version: franz-go picks request versions itself, so each (API, version)
// pair gets an upstream client whose maximum version for that API is the
// client's (made on first use; a handful per gateway).

// groupAPIs are the group APIs forwarded, with the versions offered.
// OffsetFetch stops at v7 (v8 batches groups) so one request is one
// group.
var groupAPIs = map[int16]versionRange{
	kmsg.OffsetCommit.Int16(): {2, 8},
	kmsg.OffsetFetch.Int16():  {1, 7},
	kmsg.JoinGroup.Int16():    {2, 9},
	kmsg.Heartbeat.Int16():    {0, 4},
	kmsg.LeaveGroup.Int16():   {0, 5},
	kmsg.SyncGroup.Int16():    {0, 5},
}

// pinnedClients are the upstream clients to the source for group
// requests, by API key and version.
type pinnedClients struct {
	mu     sync.Mutex
	cls    map[[2]int16]*kgo.Client
	closed bool
}

func (s *Server) pinned(key, version int16) (*kgo.Client, error) {
	p := &s.groupClients
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	if cl := p.cls[[2]int16{key, version}]; cl != nil {
		return cl, nil
	}
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(key, version)
	cl, err := cluster.NewClient(s.opts.Source, s.log.With("upstream", "source", "api", kmsg.NameForKey(key)),
		append([]kgo.Opt{kgo.MaxVersions(vs)}, s.opts.SourceOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("group client: %w", err)
	}
	if p.cls == nil {
		p.cls = map[[2]int16]*kgo.Client{}
	}
	p.cls[[2]int16{key, version}] = cl
	return cl, nil
}

func (p *pinnedClients) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cl := range p.cls {
		cl.Close()
	}
	p.cls, p.closed = nil, true
}

// forwardGroup sends a group request to the source's coordinator for the
// group at the client's version. An upstream failure closes the client's
// connection (it reconnects and retries, as after a broker failure).
func (s *Server) forwardGroup(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	version := req.GetVersion()
	cl, err := s.pinned(req.Key(), version)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("forward %s to the source: %w", kmsg.NameForKey(req.Key()), err)
	}
	if resp.GetVersion() != version {
		return nil, fmt.Errorf("forward %s v%d: the source answered v%d", kmsg.NameForKey(req.Key()), version, resp.GetVersion())
	}
	return resp, nil
}

// findCoordinator names the gateway as every group's coordinator and
// refuses transaction coordinators (transactional producers are refused).
func (s *Server) findCoordinator(req *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	node, host, port, code := s.opts.NodeID, s.host, s.port, int16(0)
	if req.CoordinatorType != 0 {
		node, host, port, code = -1, "", -1, kerr.TransactionalIDAuthorizationFailed.Code
	}
	if req.Version >= 4 {
		for _, k := range req.CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, kmsg.FindCoordinatorResponseCoordinator{
				Key: k, NodeID: node, Host: host, Port: port, ErrorCode: code,
			})
		}
		return resp
	}
	resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = code, node, host, port
	return resp
}
