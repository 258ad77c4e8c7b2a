package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxRequest bounds a request's size before it is read (Kafka's default
// socket.request.max.bytes).
const maxRequest = 100 << 20

// request is one decoded client request.
type request struct {
	key, version int16
	corr         int32
	clientID     string
	kreq         kmsg.Request
}

// maxPipelined bounds the requests of one connection read ahead of their
// answers (clients keep at most five in flight by default).
const maxPipelined = 16

// pending is one answer owed to a client, in request order.
type pending struct {
	corr   int32
	answer func() kmsg.Response // waits for it; nil: no answer (acks=0)
	close  error                // close the connection once answered
	done   chan struct{}        // closed once answered
}

// serve handles one client connection. Produce requests are pipelined:
// the reader queues each one's batches upstream in arrival order (which
// keeps a client's pipelined batches in order) and reads the next while a
// writer answers them strictly in order, as the protocol requires. Any
// other request waits until every earlier one is answered and is handled
// alone, as a broker does.
func (s *Server) serve(ctx context.Context, c net.Conn) {
	log := s.log.With("client", c.RemoteAddr().String())
	cs := &connState{authed: s.opts.Users == nil}
	answers := make(chan *pending, maxPipelined)
	written := make(chan struct{})
	go func() {
		defer close(written)
		writeAnswers(c, log, answers)
	}()
	defer func() {
		close(answers)
		<-written
	}()
	var prev *pending
	for {
		req, err := readRequest(c)
		if err != nil {
			if !errors.Is(err, errClosed) {
				log.Warn("closing client connection", "err", err)
			}
			return
		}
		p := &pending{corr: req.corr, done: make(chan struct{})}
		if pr, ok := req.kreq.(*kmsg.ProduceRequest); ok && cs.authed {
			s.stats.request(req.key)
			p.answer = s.produce(ctx, pr)
		} else {
			if prev != nil {
				<-prev.done
			}
			resp, err := s.handle(ctx, cs, req)
			if err != nil {
				log.Warn("refused request; closing the connection", "api_key", req.key, "version", req.version, "client_id", req.clientID, "err", err)
				return
			}
			p.answer = func() kmsg.Response { return resp }
			p.close = cs.closeNext
		}
		answers <- p
		prev = p
		if p.close != nil {
			return
		}
	}
}

// writeAnswers writes the answers in order until answers is closed. It
// waits for every one, even after the connection broke, so that each
// produce request's writes are waited for (and their routes released).
func writeAnswers(c net.Conn, log *slog.Logger, answers <-chan *pending) {
	var out []byte
	broken := false
	for p := range answers {
		if resp := p.answer(); resp != nil && !broken {
			out = appendResponse(out[:0], p.corr, resp)
			if _, err := c.Write(out); err != nil {
				broken = true
				c.Close()
			}
		}
		if p.close != nil && !broken {
			log.Warn("closing the connection", "err", p.close)
			broken = true
			c.Close()
		}
		close(p.done)
	}
}

// readRequest reads and decodes one size-prefixed request. A request for
// an API or version the gateway does not implement is returned with a nil
// kreq (handle refuses it).
func readRequest(c net.Conn) (*request, error) {
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, fmt.Errorf("%w: %w", errClosed, err)
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 8 || n > maxRequest {
		return nil, fmt.Errorf("request size %d out of bounds", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, fmt.Errorf("%w: %w", errClosed, err)
	}
	r := kbin.Reader{Src: body}
	req := &request{key: r.Int16(), version: r.Int16(), corr: r.Int32()}
	if id := r.NullableString(); id != nil {
		req.clientID = *id
	}
	if !r.Ok() {
		return nil, errors.New("truncated request header")
	}
	if !supported(req.key, req.version) {
		return req, nil
	}
	kreq := kmsg.RequestForKey(req.key)
	kreq.SetVersion(req.version)
	if kreq.IsFlexible() {
		kmsg.SkipTags(&r)
	}
	if err := kreq.ReadFrom(r.Src); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(req.key), req.version, err)
	}
	req.kreq = kreq
	return req, nil
}

// appendResponse frames resp for correlation id corr.
func appendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	// ApiVersions responses keep the old header even when flexible, so
	// that a client can read them before it knows our versions.
	if resp.IsFlexible() && resp.Key() != kmsg.ApiVersions.Int16() {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst, uint32(len(dst)-4))
	return dst
}

// ErrUnsupported is why a request for an API or version the gateway does
// not implement is refused: forwarding it blindly could send it to the
// wrong cluster.
var ErrUnsupported = errors.New("API or version not implemented by the gateway")

// handle answers one request. A nil response with a nil error means no
// response (acks=0); an error closes the connection.
func (s *Server) handle(ctx context.Context, cs *connState, req *request) (kmsg.Response, error) {
	s.stats.request(req.key)
	if !cs.authed && !preAuth(req.key) {
		return nil, fmt.Errorf("%w: %s", ErrUnauthenticated, kmsg.NameForKey(req.key))
	}
	if req.kreq == nil {
		if req.key == kmsg.ApiVersions.Int16() {
			// Clients retry ApiVersions at v0 on this answer.
			return apiVersions(&kmsg.ApiVersionsRequest{Version: 0}, true), nil
		}
		return nil, fmt.Errorf("%w: %s v%d", ErrUnsupported, kmsg.NameForKey(req.key), req.version)
	}
	switch r := req.kreq.(type) {
	case *kmsg.ApiVersionsRequest:
		return apiVersions(r, false), nil
	case *kmsg.SASLHandshakeRequest:
		return s.saslHandshake(cs, r), nil
	case *kmsg.SASLAuthenticateRequest:
		return s.saslAuthenticate(cs, r), nil
	case *kmsg.MetadataRequest:
		return s.metadata(ctx, r), nil
	case *kmsg.InitProducerIDRequest:
		return s.initProducerID(r), nil
	case *kmsg.ProduceRequest:
		return s.produce(ctx, r)(), nil
	case *kmsg.FetchRequest:
		return s.fetch(ctx, r), nil
	case *kmsg.ListOffsetsRequest:
		return s.listOffsets(ctx, r), nil
	case *kmsg.FindCoordinatorRequest:
		return s.findCoordinator(r), nil
	case *kmsg.OffsetCommitRequest, *kmsg.OffsetFetchRequest, *kmsg.JoinGroupRequest,
		*kmsg.HeartbeatRequest, *kmsg.LeaveGroupRequest, *kmsg.SyncGroupRequest:
		return s.forwardGroup(ctx, r)
	}
	return nil, fmt.Errorf("%w: %s v%d", ErrUnsupported, kmsg.NameForKey(req.key), req.version)
}
