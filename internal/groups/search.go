package groups

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// DefaultFetchMaxBytes is the response size Search asks for per fetch when
// SearchRequest.FetchMaxBytes is 0. A probe reads up to probeFetches
// responses, so this also sets how far a probe looks past native records
// for a mirrored one before it splits the range instead (see the package
// documentation).
const DefaultFetchMaxBytes = 256 << 10

// maxLeaderRetries bounds the fetches retried after a leadership change.
const maxLeaderRetries = 3

// ErrCorruptHeader is wrapped by Search's error when a target record has a
// tracing header that does not decode: translating past it could be wrong,
// so Search refuses.
var ErrCorruptHeader = errors.New("corrupt tracing header on the target")

// SourcePartition names the source partition whose records Search looks
// for, as the tracing headers name it (trace's one copy rule judges them).
type SourcePartition = trace.Source

// SearchRequest is one translation by tracing headers.
type SearchRequest struct {
	// Topic and Partition are the target partition to search.
	Topic     string
	Partition int32
	// Source is the source partition the committed offset belongs to.
	// Records whose tracing header names another partition (or none)
	// are not mirrored copies of it and are skipped.
	Source SourcePartition
	// Offset is the committed source offset to translate.
	Offset int64
	// Checkpoint is the source partition's checkpoint from the state
	// topic: an Offset past Checkpoint.Next is NotYetMirrored, without
	// fetching.
	Checkpoint state.Checkpoint
	// Expired are the source partition's expired ranges from the state
	// topic; an Offset inside one is Expired rather than NextCopied.
	Expired []state.Expired
	// FetchMaxBytes is the size of each fetch response; 0 means
	// DefaultFetchMaxBytes. Brokers return at least one record batch
	// whatever the limit.
	FetchMaxBytes int32
}

// Search translates a committed source offset by reading tracing headers
// on the target (cl is a client to the target cluster): the result is the
// offset of the first record in the target partition whose tracing header
// names req.Source with a source offset >= req.Offset, found by a binary
// search over the partition with one fetch per probe. Kinds and offsets
// are those Translate gives from the offset map of the same data; see the
// package documentation for the assumptions and the bound on fetches.
//
// Search reads with read_committed isolation: records of aborted
// transactions (including kmigrate's own aborted copies) are never seen.
// It reads the partition as it is between its log start and its last
// stable offset when Search starts.
func Search(ctx context.Context, cl *kgo.Client, req SearchRequest) (Result, error) {
	c := req.Offset
	if c < 0 {
		return Result{}, fmt.Errorf("search offset %d: %w", c, ErrOffset)
	}
	if c > req.Checkpoint.Next {
		return Result{Kind: NotYetMirrored, Offset: -1}, nil
	}
	s := &searcher{partReader: newPartReader(cl, req.Topic, req.Partition, req.FetchMaxBytes), req: req, last: -1}
	if err := s.init(ctx); err != nil {
		return Result{}, err
	}
	u, src, found, err := s.find(ctx, s.start, s.end)
	if err != nil {
		return Result{Fetches: s.fetches}, err
	}
	res := Result{Fetches: s.fetches}
	switch {
	case !found:
		// Every mirrored record precedes c; find has seen the last
		// one (see find).
		res.Kind, res.Offset = End, s.last+1 // 0 when none: as Translate
	case src == c:
		res.Kind, res.Offset = Exact, u
	default:
		// s.last < 0: no mirrored record before u (see find), so c
		// precedes the first copy.
		g := gap(c, src, u, s.last < 0 && beforeStart(c, req.Checkpoint), req.Expired)
		res.Kind, res.Offset, res.Skipped = g.Kind, g.Offset, g.Skipped
	}
	return res, nil
}

// searcher is the state of one Search.
type searcher struct {
	*partReader
	req SearchRequest

	start, end int64 // log start and last stable offset of the target partition

	// last is the highest target offset seen holding a mirrored record
	// of req.Source with a source offset below req.Offset, -1 if none.
	last int64
}

// init finds the partition's leader, its topic id and its bounds.
func (s *searcher) init(ctx context.Context) error {
	if err := s.refreshLeader(ctx); err != nil {
		return err
	}
	adm := kadm.NewClient(s.cl)
	tp := s.req.Topic
	starts, err := adm.ListStartOffsets(ctx, tp)
	if err != nil {
		return fmt.Errorf("search %s/%d: list start offsets: %w", tp, s.req.Partition, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, tp)
	if err != nil {
		return fmt.Errorf("search %s/%d: list end offsets: %w", tp, s.req.Partition, err)
	}
	start, ok1 := starts.Lookup(tp, s.req.Partition)
	end, ok2 := ends.Lookup(tp, s.req.Partition)
	if !ok1 || !ok2 {
		return fmt.Errorf("search %s/%d: %w", tp, s.req.Partition, kerr.UnknownTopicOrPartition)
	}
	if err := errors.Join(start.Err, end.Err); err != nil {
		return fmt.Errorf("search %s/%d: list offsets: %w", tp, s.req.Partition, err)
	}
	s.start, s.end = start.Offset, end.Offset
	return nil
}

// find returns the first target offset u in [lo, hi) holding a mirrored
// record of req.Source with source offset src >= req.Offset.
//
// Each probe fetches from the middle of the range and looks for the first
// mirrored record in what the fetch returned, [mid, w):
//
//   - found, src >= c: the answer is that record or lies before mid;
//   - found, src < c: the answer lies after it;
//   - none (native records, markers, aborted batches fill [mid, w)): the
//     answer lies before mid or at or after w; search [lo, mid) first and,
//     if it holds no answer, [w, hi).
//
// When find returns nothing, it has seen (and noted in s.last) the last
// mirrored record of [lo, hi), if there is one: by induction, every branch
// that gives up on a range has either seen a mirrored record with src < c
// and searched everything after it, or searched both sides of a probe
// that saw none. Search relies on this for End and Expired.
func (s *searcher) find(ctx context.Context, lo, hi int64) (u, src int64, found bool, err error) {
	for lo < hi {
		mid := lo + (hi-lo)/2
		pu, psrc, pfound, w, err := s.probe(ctx, mid, hi)
		if err != nil {
			return 0, 0, false, err
		}
		switch {
		case pfound && psrc >= s.req.Offset:
			if lu, lsrc, lfound, err := s.find(ctx, lo, mid); err != nil || lfound {
				return lu, lsrc, lfound, err
			}
			return pu, psrc, true, nil
		case pfound:
			s.last = max(s.last, pu)
			lo = pu + 1
		default:
			if lu, lsrc, lfound, err := s.find(ctx, lo, mid); err != nil || lfound {
				return lu, lsrc, lfound, err
			}
			lo = w
		}
	}
	return 0, 0, false, nil
}

// probeFetches is how many fetches a probe reads forward looking for a
// mirrored record before it gives up and lets find split the range. Short
// stretches without one (a commit marker, a few native batches) are common
// and cheaper to read past than to split at.
const probeFetches = 3

// probe fetches from mid, reading forward for up to probeFetches fetches,
// and returns the first mirrored record of req.Source below hi, or found =
// false and w, the offset after the last offset the fetches covered (at
// most hi, and > mid).
func (s *searcher) probe(ctx context.Context, mid, hi int64) (u, src int64, found bool, w int64, err error) {
	from := mid
	for range probeFetches {
		fp, next, err := s.fetch(ctx, from)
		if err != nil {
			return 0, 0, false, 0, err
		}
		for _, r := range fp.Records {
			if r.Offset >= hi {
				break
			}
			raw, k, err := trace.Of(r.Headers, s.req.Source)
			switch k {
			case trace.Corrupt:
				return 0, 0, false, 0, fmt.Errorf("search %s/%d: offset %d: %w: %w", s.req.Topic, s.req.Partition, r.Offset, ErrCorruptHeader, err)
			case trace.Native, trace.Sibling:
				continue // native, or mirrored from elsewhere
			}
			return r.Offset, raw.Offset, true, 0, nil
		}
		if next <= from || fp.LastStableOffset <= from {
			// Nothing readable at or after from (it is at or past the
			// last stable offset, which does not move below s.end).
			return 0, 0, false, hi, nil
		}
		if from = min(next, hi); from == hi {
			break
		}
	}
	return 0, 0, false, from, nil
}
