package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Side is the cluster a topic's requests go to.
type Side int

// The sides. A topic goes from Source to Target once, through Holding
// while a switch drains it; an aborted switch returns it to Source.
const (
	Source  Side = iota // not promoted: the source is the only writer
	Holding             // a switch is draining it: writes wait
	Target              // promoted: writes go to the target
)

func (s Side) String() string {
	switch s {
	case Source:
		return "source"
	case Holding:
		return "holding"
	case Target:
		return "target"
	}
	return fmt.Sprintf("Side(%d)", int(s))
}

// ErrHeld is returned by acquire when a write waited for a switch longer
// than its bound; the client is answered with a retriable error.
var ErrHeld = errors.New("write held by a switch")

// topicRoute is where one topic's requests go, and the writes in flight to
// it, so that a switch can wait for them.
type topicRoute struct {
	mu       sync.Mutex
	side     Side
	changed  chan struct{} // closed and replaced when side changes
	inflight int
	drained  []chan struct{} // closed when inflight drops to 0 while Holding
}

func newTopicRoute(side Side) *topicRoute {
	return &topicRoute{side: side, changed: make(chan struct{})}
}

// current returns the side reads and metadata use now.
func (r *topicRoute) current() Side {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.side
}

// acquire waits while the topic is Holding and returns the side a write
// goes to; the caller must call release once the write is acknowledged
// or failed. held bounds the wait (ErrHeld); ctx cancels it.
func (r *topicRoute) acquire(ctx context.Context, held <-chan struct{}) (Side, error) {
	for {
		r.mu.Lock()
		if r.side != Holding {
			r.inflight++
			side := r.side
			r.mu.Unlock()
			return side, nil
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-held:
			return 0, ErrHeld
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (r *topicRoute) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight--
	if r.inflight == 0 {
		for _, d := range r.drained {
			close(d)
		}
		r.drained = nil
	}
}

// hold moves a Source topic to Holding (a Holding one stays) and returns
// a channel closed once no write acquired before is in flight. It fails
// if the topic is on the target.
func (r *topicRoute) hold() (<-chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.side == Target {
		return nil, fmt.Errorf("%w: it is %s", ErrNotOnSource, r.side)
	}
	r.setLocked(Holding)
	d := make(chan struct{})
	if r.inflight == 0 {
		close(d)
	} else {
		r.drained = append(r.drained, d)
	}
	return d, nil
}

// set moves the topic to side and wakes held writes.
func (r *topicRoute) set(side Side) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setLocked(side)
}

func (r *topicRoute) setLocked(side Side) {
	if r.side == side {
		return
	}
	r.side = side
	close(r.changed)
	r.changed = make(chan struct{})
}
