package partread

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrNoMarker: a transactional record's transaction has no marker in the
// readable log, so its outcome cannot be known.
var ErrNoMarker = errors.New("no transaction marker")

// outcome is a transaction outcome learned by reading ahead: producer's
// records in [from, marker) belong to the transaction its marker at marker
// ended.
type outcome struct {
	from, marker int64
	commit       bool
}

// marker is a transaction marker: its offset and whether it commits.
type marker struct {
	offset int64
	commit bool
}

// markerOf returns what the control record key says: ok is false for
// control records that are not transaction markers.
func markerOf(key []byte) (commit, ok bool) {
	if len(key) < 4 {
		return false, false
	}
	switch binary.BigEndian.Uint16(key[2:4]) {
	case 0:
		return false, true
	case 1:
		return true, true
	}
	return false, false
}

type verdict uint8

const (
	undecided verdict = iota
	deliver
	drop
)

// resolution is the package rule applied to the records of one response.
type resolution struct {
	recs    []*kgo.Record
	verdict []verdict
	// pending lists, per producer, the undecided records (indexes), and
	// firstPending the offset of the first of them.
	pending      map[int64][]int
	firstPending map[int64]int64
}

// resolve applies the rule to recs (one response, in offset order, control
// records included) with the response's aborted list; known looks up an
// outcome learned earlier. Records whose marker the response does not hold
// stay pending.
func resolve(recs []*kgo.Record, abortedList []kmsg.FetchResponseTopicPartitionAbortedTransaction, known func(pid, offset int64) (commit, ok bool)) *resolution {
	res := &resolution{recs: recs, verdict: make([]verdict, len(recs))}
	list := slices.SortedFunc(slices.Values(abortedList), func(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) int {
		return cmp.Compare(a.FirstOffset, b.FirstOffset)
	})
	// aborting holds the producers whose aborted transaction (from the
	// list) has begun and whose marker has not been read yet.
	aborting := map[int64]bool{}
	for i, r := range recs {
		for len(list) > 0 && list[0].FirstOffset <= r.Offset {
			aborting[list[0].ProducerID] = true
			list = list[1:]
		}
		pid := r.ProducerID
		switch {
		case r.Attrs.IsControl():
			res.verdict[i] = drop
			commit, ok := markerOf(r.Key)
			if !ok {
				continue
			}
			v := drop
			if commit {
				v = deliver
			}
			for _, j := range res.pending[pid] {
				res.verdict[j] = v
			}
			delete(res.pending, pid)
			delete(res.firstPending, pid)
			delete(aborting, pid)
		case !r.Attrs.IsTransactional():
			res.verdict[i] = deliver
		case aborting[pid]:
			res.verdict[i] = drop
		default:
			if commit, ok := known(pid, r.Offset); ok {
				res.verdict[i] = drop
				if commit {
					res.verdict[i] = deliver
				}
				continue
			}
			if res.pending == nil {
				res.pending, res.firstPending = map[int64][]int{}, map[int64]int64{}
			}
			if _, ok := res.pending[pid]; !ok {
				res.firstPending[pid] = r.Offset
			}
			res.pending[pid] = append(res.pending[pid], i)
		}
	}
	return res
}

// pendingProducers returns the producers with undecided records.
func (res *resolution) pendingProducers() map[int64]bool {
	out := make(map[int64]bool, len(res.pending))
	for pid := range res.pending {
		out[pid] = true
	}
	return out
}

// settle decides the pending records by the markers found.
func (res *resolution) settle(found map[int64]marker) {
	for pid, idx := range res.pending {
		m, ok := found[pid]
		for _, j := range idx {
			if ok && m.commit {
				res.verdict[j] = deliver
			} else {
				res.verdict[j] = drop
			}
		}
	}
	res.pending, res.firstPending = nil, nil
}

// delivered returns the records to deliver, in order.
func (res *resolution) delivered() []*kgo.Record {
	out := res.recs[:0]
	for i, r := range res.recs {
		if res.verdict[i] == deliver {
			out = append(out, r)
		}
	}
	clear(res.recs[len(out):])
	return out
}

// Read-ahead fetch sizes: the first is small (the marker is usually just
// past the response), each next one doubles.
const (
	readAheadFirst = 64 << 10
	readAheadMax   = 8 << 20
	// readAheadStalls bounds the fetches that wait (readAheadWait each) at
	// the high watermark for a marker not replicated yet.
	readAheadStalls = 20
	readAheadWait   = 500
)

// readAhead reads the partition from offset, batch headers only, until it
// found the next marker of every producer in want.
func (r *Reader) readAhead(ctx context.Context, from int64, want map[int64]bool) (map[int64]marker, error) {
	found := make(map[int64]marker, len(want))
	size := int32(readAheadFirst)
	stalls := 0
	wait := int32(0)
	for pos := from; len(found) < len(want); {
		part, err := r.raw(ctx, pos, size, false, wait)
		if err != nil {
			return nil, err
		}
		next, err := scanMarkers(part.RecordBatches, pos, want, found)
		if err != nil {
			return nil, r.errAt(pos, fmt.Errorf("read ahead: %w", err))
		}
		size = min(2*size, readAheadMax)
		if next > pos {
			pos, stalls, wait = next, 0, 0
			continue
		}
		if stalls++; stalls > readAheadStalls {
			var missing []int64
			for pid := range want {
				if _, ok := found[pid]; !ok {
					missing = append(missing, pid)
				}
			}
			slices.Sort(missing)
			return nil, r.errAt(from, fmt.Errorf("producers %v: %w up to offset %d (high watermark %d)", missing, ErrNoMarker, pos, part.HighWatermark))
		}
		wait = readAheadWait
	}
	return found, nil
}

// scanMarkers walks the record batches in b (headers only; the records of
// a control batch, never compressed, are read for the marker type),
// recording in found the first marker at or after pos of each producer in
// want, and returns the offset after the last batch read (pos if none).
// It stops early once every producer's marker is found.
func scanMarkers(b []byte, pos int64, want map[int64]bool, found map[int64]marker) (int64, error) {
	for len(b) >= 17 && len(found) < len(want) {
		length := int64(int32(binary.BigEndian.Uint32(b[8:12])))
		size := 12 + length
		if length < 5 || size > int64(len(b)) {
			break // a partial batch at the end of the response
		}
		raw := b[:size]
		b = b[size:]
		if raw[16] != 2 {
			// A message set (magic 0 or 1): no transactions; its
			// offset is that of its last record.
			pos = max(pos, int64(binary.BigEndian.Uint64(raw[:8]))+1)
			continue
		}
		var batch kmsg.RecordBatch
		if err := batch.ReadFrom(raw); err != nil {
			return pos, fmt.Errorf("record batch: %w", err)
		}
		last := batch.FirstOffset + int64(batch.LastOffsetDelta)
		if last < pos {
			continue
		}
		pos = last + 1
		pid := batch.ProducerID
		if batch.Attributes&0x20 == 0 || !want[pid] {
			continue
		}
		if _, ok := found[pid]; ok {
			continue
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(batch.Records); err != nil {
			return pos, fmt.Errorf("control record: %w", err)
		}
		if commit, ok := markerOf(rec.Key); ok {
			found[pid] = marker{offset: batch.FirstOffset + int64(rec.OffsetDelta), commit: commit}
		}
	}
	return pos, nil
}
