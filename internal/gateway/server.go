package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
)

// upstream is one cluster the gateway writes to and reads from, with its
// own credentials. cl produces idempotently (acks=all) and partitions as
// told, so a client's partition is kept.
type upstream struct {
	side  Side
	cl    *kgo.Client
	adm   *kadm.Client
	prod  *upstreamProducer // the gateway's producer id there (forward.go)
	batch *batcher          // gathers the partitions' writes into requests (batcher.go)
}

// Server is a gateway: it speaks the Kafka protocol to clients and routes
// their requests to the source or the target. Build it with New, serve
// with Run, switch a topic with Promote.
type Server struct {
	opts     Options
	log      *slog.Logger
	ln       net.Listener
	host     string
	port     int32
	src, tgt upstream
	store    Store
	routes   map[string]*topicRoute // by source topic name; fixed set
	names    map[string]string      // source -> target topic name
	seqs     *sequences
	pids     *producerIDs
	stats    *stats
	id       string       // this gateway's member id
	ownStore *StateStore  // the store New made, closed with the server
	lastRead atomic.Int64 // unix nanos: the lease (coord.go)

	holdsMu     sync.Mutex
	ownHolds    map[string]string // topic -> nonce of this gateway's switch
	remoteHolds map[string]string // topic -> nonce of another's, held here
	bases       map[string]*Base  // offset spaces of switched topics (offsets.go)

	groupClients pinnedClients // groups.go

	life      context.Context // ends when the server closes: upstream writes stop
	endLife   context.CancelFunc
	sendersMu sync.Mutex
	senders   map[senderKey]*partitionSender // forward.go

	closeOnce sync.Once
	connsMu   sync.Mutex
	conns     map[net.Conn]struct{}
	closed    bool // no connection is tracked once set
	wg        sync.WaitGroup
}

// New connects to both clusters and listens; nothing is served until Run.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, log: opts.Logger, routes: map[string]*topicRoute{}, names: map[string]string{},
		seqs: newSequences(), pids: newProducerIDs(), stats: newStats(), conns: map[net.Conn]struct{}{},
		id: opts.ID, ownHolds: map[string]string{}, remoteHolds: map[string]string{}, bases: map[string]*Base{},
		senders: map[senderKey]*partitionSender{},
	}
	s.life, s.endLife = context.WithCancel(context.Background())
	if s.id == "" {
		s.id = nonce()
	}
	for _, t := range opts.Topics {
		s.routes[t.Source] = newTopicRoute(Source)
		s.names[t.Source] = t.Target
	}
	var err error
	if s.src, err = connect(Source, opts.Source, opts.SourceOpts, s.log); err != nil {
		return nil, err
	}
	if s.tgt, err = connect(Target, opts.Target, opts.TargetOpts, s.log); err != nil {
		s.src.cl.Close()
		return nil, err
	}
	s.src.batch, s.tgt.batch = newBatcher(s.src.cl, &s.wg), newBatcher(s.tgt.cl, &s.wg)
	s.store = opts.Store
	if s.store == nil {
		ropts, err := cluster.Opts(opts.Target, nil)
		if err != nil {
			s.closeClients()
			return nil, fmt.Errorf("gateway: state reader: %w", err)
		}
		if s.ownStore, err = NewStateStore(s.tgt.cl, opts.Migration, append(ropts, opts.TargetOpts...)); err != nil {
			s.closeClients()
			return nil, fmt.Errorf("gateway: %w", err)
		}
		s.store = s.ownStore
	}
	if err := s.listen(); err != nil {
		s.closeClients()
		return nil, err
	}
	s.log = s.log.With("gateway", s.id)
	return s, nil
}

func connect(side Side, c *config.Cluster, extra []kgo.Opt, log *slog.Logger) (upstream, error) {
	// Fetch and Produce v13+ name topics by id; the gateway forwards
	// them by name.
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(kmsg.Fetch.Int16(), 12)
	versions.SetMaxKeyVersion(kmsg.Produce.Int16(), 12)
	opts := append([]kgo.Opt{
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.MaxVersions(versions),
	}, extra...)
	cl, err := cluster.NewClient(c, log.With("upstream", side.String()), opts...)
	if err != nil {
		return upstream{}, fmt.Errorf("gateway: %s client: %w", side, err)
	}
	return upstream{side: side, cl: cl, adm: kadm.NewClient(cl), prod: new(upstreamProducer)}, nil
}

func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	adv := s.opts.Advertise
	if adv == "" {
		adv = ln.Addr().String()
	}
	host, port, err := net.SplitHostPort(adv)
	if err == nil {
		var p int
		p, err = strconv.Atoi(port)
		s.host, s.port = host, int32(p)
	}
	if err != nil {
		ln.Close()
		return fmt.Errorf("gateway: advertised address %q: %w", adv, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address the gateway listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves clients until ctx ends, and syncs with the migration's state
// at once and every PollInterval (coord.go). Until the first sync
// succeeds, writes routed to the source are answered with a retriable
// error (no lease yet). It closes the server when it returns.
func (s *Server) Run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.poll(ctx)
	}()
	go func() {
		<-ctx.Done()
		s.ln.Close()
		s.closeConns()
	}()
	err := s.accept(ctx)
	cancel()
	// Closing the upstream clients also ends writes still waiting for
	// an unreachable cluster, so the handlers return.
	s.Close()
	s.wg.Wait()
	if parent.Err() != nil {
		return nil
	}
	return err
}

// accept serves each client connection in its own goroutine until the
// listener closes.
func (s *Server) accept(ctx context.Context) error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return fmt.Errorf("gateway: accept: %w", err)
		}
		if !s.track(c, true) {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.track(c, false) //nolint:errcheck // removal
			s.serve(ctx, c)
		}()
	}
}

// track adds or removes a client connection; it refuses (and closes) a
// connection accepted while the server closes, so that no handler
// outlives Run.
func (s *Server) track(c net.Conn, add bool) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if add && !s.closed {
		s.conns[c] = struct{}{}
		s.stats.connections.Add(1)
		return true
	}
	delete(s.conns, c)
	c.Close()
	return false
}

func (s *Server) closeConns() {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
}

// Close stops listening, leaves the migration's gateways (so that a
// switch does not wait for this one) and closes the upstream clients. Run
// calls it.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.endLife()
		s.ln.Close()
		s.closeConns()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.store.Write(ctx, tombstone(keyGateway+"/member/"+s.id)); err != nil {
			s.log.Warn("could not leave the gateways of the migration; a switch waits for this one until its heartbeat ages", "err", err)
		}
		s.closeClients()
	})
}

func (s *Server) closeClients() {
	s.endLife()
	s.groupClients.close()
	if s.ownStore != nil {
		s.ownStore.Close()
	}
	s.src.cl.Close()
	s.tgt.cl.Close()
}

// upstreamFor returns the cluster of side and the topic's name there.
func (s *Server) upstreamFor(side Side, topic string) (upstream, string) {
	if side == Target {
		return s.tgt, s.names[topic]
	}
	return s.src, topic
}

// errClosed is how a connection ends when the client or the server closed
// it.
var errClosed = errors.New("connection closed")
