package kafkatest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OmitAbortedTransactions makes every connection the dialer opens from now
// on strip the aborted-transactions list from Fetch responses, as a broker
// would that leaves it out (kfake does so once a response reaches the
// request-wide MaxBytes). A read_committed client reading through such a
// connection cannot tell aborted records from committed ones by the list:
// only the transaction markers in the log say which is which. Tests use it
// to prove that a reader never treats aborted records as data, whatever
// the broker sends.
//
// It affects only connections dialed after the call; AbortedListsStripped
// counts the lists removed.
func (d *FaultDialer) OmitAbortedTransactions() {
	d.mu.Lock()
	d.omitAborted = true
	d.mu.Unlock()
}

// AbortedListsStripped is the number of non-empty aborted-transactions
// lists (one per partition in a Fetch response) that OmitAbortedTransactions
// removed: a test asserts it is positive, so it knows the condition it
// simulates happened.
func (d *FaultDialer) AbortedListsStripped() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats.AbortedStripped
}

// fetchRewriter rewrites the Fetch responses read from one connection.
// Requests are seen in Write (franz-go writes each request with one
// Write), responses are reassembled frame by frame in Read.
type fetchRewriter struct {
	d  *FaultDialer
	in *bufio.Reader

	mu      sync.Mutex
	fetches map[int32]int16 // correlation id -> Fetch version
	out     []byte          // rewritten bytes not yet read
}

func newFetchRewriter(d *FaultDialer, c net.Conn) *fetchRewriter {
	return &fetchRewriter{d: d, in: bufio.NewReaderSize(c, 64<<10), fetches: map[int32]int16{}}
}

// sent notes a request written to the broker.
func (w *fetchRewriter) sent(b []byte) {
	// size int32, key int16, version int16, correlation id int32
	if len(b) < 12 || int16(binary.BigEndian.Uint16(b[4:6])) != kmsg.Fetch.Int16() {
		return
	}
	w.mu.Lock()
	w.fetches[int32(binary.BigEndian.Uint32(b[8:12]))] = int16(binary.BigEndian.Uint16(b[6:8]))
	w.mu.Unlock()
}

// read serves b from rewritten response frames.
func (w *fetchRewriter) read(b []byte) (int, error) {
	for len(w.out) == 0 {
		frame, err := w.next()
		if err != nil {
			return 0, err
		}
		w.out = frame
	}
	n := copy(b, w.out)
	w.out = w.out[n:]
	return n, nil
}

// next reads one response frame and returns it, rewritten if it answers a
// Fetch.
func (w *fetchRewriter) next() ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(w.in, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	frame := make([]byte, 4+int(n))
	copy(frame, size[:])
	if _, err := io.ReadFull(w.in, frame[4:]); err != nil {
		return nil, err
	}
	if n < 4 {
		return frame, nil
	}
	corr := int32(binary.BigEndian.Uint32(frame[4:8]))
	w.mu.Lock()
	version, ok := w.fetches[corr]
	delete(w.fetches, corr)
	w.mu.Unlock()
	if !ok {
		return frame, nil
	}
	out, stripped, err := stripAborted(frame[4:], version)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: rewrite fetch response: %w", err)
	}
	if stripped > 0 {
		w.d.mu.Lock()
		w.d.stats.AbortedStripped += stripped
		w.d.mu.Unlock()
	}
	return out, nil
}

// stripAborted decodes a Fetch response (header and body, without the size
// prefix), removes every aborted-transactions list and re-encodes it with
// its size prefix.
func stripAborted(msg []byte, version int16) ([]byte, int, error) {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = version
	hdr := 4 // correlation id
	if resp.IsFlexible() {
		n, err := skipTags(msg[hdr:])
		if err != nil {
			return nil, 0, err
		}
		hdr += n
	}
	if err := resp.ReadFrom(msg[hdr:]); err != nil {
		return nil, 0, err
	}
	stripped := 0
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			p := &resp.Topics[i].Partitions[j]
			if len(p.AbortedTransactions) > 0 {
				stripped++
			}
			// Absent, as a broker that does not compute it sends it
			// (null from v4 on).
			p.AbortedTransactions = nil
		}
	}
	out := make([]byte, 4, 4+len(msg))
	out = append(out, msg[:hdr]...)
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, stripped, nil
}

// skipTags returns the length of a tagged-fields section.
func skipTags(b []byte) (int, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, errors.New("bad tag count")
	}
	off := n
	for range count {
		_, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return 0, errors.New("bad tag")
		}
		off += n
		size, n := binary.Uvarint(b[off:])
		if n <= 0 || uint64(len(b)-off-n) < size {
			return 0, errors.New("bad tag size")
		}
		off += n + int(size)
	}
	return off, nil
}
