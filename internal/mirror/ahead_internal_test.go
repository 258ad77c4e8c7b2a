package mirror

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestAheadAck(t *testing.T) {
	a := aheadState{ackSignal: make(chan struct{}, 1)}
	r := &kgo.Record{Key: []byte("key"), Value: make([]byte, 1000), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("vv")}}, Offset: 42}
	a.ack(r)
	a.ack(&kgo.Record{Value: make([]byte, 10)})
	if got, want := a.acked.Load(), memSize(3+1000+1+2)+memSize(10); got != want {
		t.Errorf("acked %d, want %d", got, want)
	}
	if r.Key != nil || r.Value != nil || r.Headers != nil || r.Offset != 42 {
		t.Errorf("acknowledged record keeps key %q, %d value bytes, %d headers, offset %d; want only the offset 42", r.Key, len(r.Value), len(r.Headers), r.Offset)
	}
	// Two acks, one signal: the channel never blocks the promise.
	if len(a.ackSignal) != 1 {
		t.Errorf("%d signals pending, want 1", len(a.ackSignal))
	}
}

func TestFetchedBytes(t *testing.T) {
	recs := []*kgo.Record{{Value: make([]byte, 100)}, {Key: []byte("k"), Value: make([]byte, 20)}}
	data := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "t", Partitions: []kgo.FetchPartition{{Partition: 0, Records: recs}}}}}}
	if n, keep := fetchedBytes(data); n != memSize(100)+memSize(21) || !keep {
		t.Errorf("records: %d, %v; want %d, true", n, keep, memSize(100)+memSize(21))
	}
	errFetch := func(err error) kgo.Fetches {
		return kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "t", Partitions: []kgo.FetchPartition{{Partition: 1, Err: err}}}}}}
	}
	// The end of the commit's poll is nothing to keep; a fetch error is.
	if n, keep := fetchedBytes(errFetch(context.Canceled)); n != 0 || keep {
		t.Errorf("cancelled poll: %d, %v; want 0, false", n, keep)
	}
	if n, keep := fetchedBytes(errFetch(errors.New("offset out of range"))); n != 0 || !keep {
		t.Errorf("fetch error: %d, %v; want 0, true", n, keep)
	}
	if n, keep := fetchedBytes(nil); n != 0 || keep {
		t.Errorf("empty poll: %d, %v; want 0, false", n, keep)
	}
}
