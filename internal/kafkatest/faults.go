package kafkatest

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrRefused is what FaultDialer.DialContext returns while it refuses dials.
var ErrRefused = errors.New("kafkatest: dial refused by fault injection")

// ErrLostResponse is what a read returns on a connection whose response
// LoseResponses made the dialer lose.
var ErrLostResponse = errors.New("kafkatest: connection failed before the response arrived (fault injection)")

// FaultDialer opens TCP connections that a test can break: drop every open
// connection at once, delay each read and write, refuse new dials for a
// while, lose the responses to chosen requests. Hand its DialContext to the client under test with
// kgo.Dialer(fd.DialContext) (for product code, through an option such as
// mirror.Options.SourceOpts).
//
// It is a dialer rather than a proxy because a Kafka client connects to the
// addresses the brokers advertise in metadata, not only to the bootstrap
// address: kfake advertises its own listen addresses, so a proxy in front
// of the bootstrap address would see the first connection only. A dialer
// wraps every connection the client opens, to any broker.
//
// kgo.Dialer cannot be combined with kgo.DialTLSConfig, so FaultDialer
// serves PLAINTEXT clusters. It is safe for concurrent use.
type FaultDialer struct {
	dialer net.Dialer

	mu          sync.Mutex
	conns       map[*faultConn]struct{}
	latency     time.Duration
	refuseUntil time.Time
	lose        map[int16]int // API key -> responses left to lose
	omitAborted bool          // OmitAbortedTransactions
	stats       FaultStats
}

// FaultStats counts what a FaultDialer did.
type FaultStats struct {
	Dials   int // connections opened
	Refused int // dials refused
	Dropped int // connections closed by DropAll
	Lost    int // responses lost (LoseResponses)
	// AbortedStripped counts aborted-transactions lists removed from
	// Fetch responses (OmitAbortedTransactions).
	AbortedStripped int
}

// NewFaultDialer returns a dialer that, until told otherwise, dials like
// net.Dialer.
func NewFaultDialer() *FaultDialer {
	return &FaultDialer{conns: map[*faultConn]struct{}{}, lose: map[int16]int{}}
}

// DialContext has the signature kgo.Dialer expects.
func (d *FaultDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	if time.Now().Before(d.refuseUntil) {
		d.stats.Refused++
		d.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ErrRefused}
	}
	d.mu.Unlock()
	c, err := d.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	fc := &faultConn{Conn: c, d: d}
	d.mu.Lock()
	if d.omitAborted {
		fc.rw = newFetchRewriter(d, c)
	}
	d.conns[fc] = struct{}{}
	d.stats.Dials++
	d.mu.Unlock()
	return fc, nil
}

// DropAll closes every connection the dialer opened that is still open, as
// a broker restart or a network failure would, and returns how many it
// closed.
func (d *FaultDialer) DropAll() int {
	d.mu.Lock()
	conns := make([]*faultConn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	clear(d.conns)
	d.stats.Dropped += len(conns)
	d.mu.Unlock()
	for _, c := range conns {
		_ = c.Conn.Close() // the client sees the error on its next read or write
	}
	return len(conns)
}

// SetLatency delays every later read and write on every connection by l
// (0 removes the delay).
func (d *FaultDialer) SetLatency(l time.Duration) {
	d.mu.Lock()
	d.latency = l
	d.mu.Unlock()
}

// RefuseFor makes dials fail with an error wrapping ErrRefused for the next
// dur. Open connections are not affected: combine with DropAll for an
// outage.
func (d *FaultDialer) RefuseFor(dur time.Duration) {
	d.mu.Lock()
	d.refuseUntil = time.Now().Add(dur)
	d.mu.Unlock()
}

// LoseResponses makes the next n requests with the Kafka API key (see
// kmsg.Key) reach the broker, which handles them, while their connection
// fails before the client reads the response: the client cannot know
// whether the request took effect. Use it for the requests whose outcome
// matters when unknown, such as EndTxn (a commit the client believes
// failed) or Produce.
func (d *FaultDialer) LoseResponses(apiKey int16, n int) {
	d.mu.Lock()
	d.lose[apiKey] += n
	d.mu.Unlock()
}

// PendingLosses is the number of responses LoseResponses asked to lose
// that have not been lost yet.
func (d *FaultDialer) PendingLosses() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, left := range d.lose {
		n += left
	}
	return n
}

// takeLoss reports whether the response to a request with this key is to
// be lost, counting it.
func (d *FaultDialer) takeLoss(apiKey int16) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lose[apiKey] <= 0 {
		return false
	}
	d.lose[apiKey]--
	d.stats.Lost++
	return true
}

// Stats returns what the dialer has done so far.
func (d *FaultDialer) Stats() FaultStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

func (d *FaultDialer) delay() {
	d.mu.Lock()
	l := d.latency
	d.mu.Unlock()
	if l > 0 {
		time.Sleep(l)
	}
}

// faultConn is a connection that FaultDialer can drop, delay, and make
// lose a response.
type faultConn struct {
	net.Conn
	d *FaultDialer
	// lost is set once a request went out whose response must be lost:
	// from then on, reads fail, and the connection is closed soon after
	// (once the broker has had time to handle the request).
	lost atomic.Bool
	// rw rewrites Fetch responses (OmitAbortedTransactions); nil when
	// responses pass unchanged.
	rw *fetchRewriter
}

func (c *faultConn) Read(b []byte) (int, error) {
	c.d.delay()
	if c.lost.Load() {
		return 0, ErrLostResponse
	}
	var n int
	var err error
	if c.rw != nil {
		n, err = c.rw.read(b)
	} else {
		n, err = c.Conn.Read(b)
	}
	if c.lost.Load() {
		return 0, ErrLostResponse // what was read may be the response
	}
	return n, err
}

func (c *faultConn) Write(b []byte) (int, error) {
	c.d.delay()
	// A request starts with its length (int32) and API key (int16);
	// franz-go writes each request with one Write.
	lose := len(b) >= 6 && c.d.takeLoss(int16(binary.BigEndian.Uint16(b[4:6])))
	if c.rw != nil {
		c.rw.sent(b)
	}
	n, err := c.Conn.Write(b)
	if lose {
		c.lost.Store(true)
		time.AfterFunc(100*time.Millisecond, func() { _ = c.Close() })
	}
	return n, err
}

func (c *faultConn) Close() error {
	c.d.mu.Lock()
	delete(c.d.conns, c)
	c.d.mu.Unlock()
	return c.Conn.Close()
}
