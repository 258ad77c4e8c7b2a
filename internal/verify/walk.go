package verify

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// feed is an ordered sequence of committed records of one partition: a
// stream, or a slice in tests.
type feed interface {
	// next returns the next record, nil at the end.
	next() (*kgo.Record, error)
	// deletedAt reports whether offset o left the partition while it was
	// read (so it was not seen, and is not missing).
	deletedAt(o int64) bool
}

// partition is what verifying one partition needs to know, fixed when the
// verification starts.
type partition struct {
	tp       state.TopicPartition
	target   string
	sourceID string
	targetID string
	// headers: copies are identified by their tracing header; otherwise
	// by the offset map.
	headers bool
	m       *offsetmap.Map
	// src is the verified source range; sourceStart the source's log
	// start (copies below it cannot be compared).
	src         Range
	sourceStart int64
	// tgt is the target range read; targetNext the checkpoint's target
	// end (copies of later source offsets at or past it are the mirror's
	// work after the snapshot).
	tgt        Range
	targetNext int64

	sourceCompacted, targetCompacted bool
	maxListed, maxPending            int
}

// walker is the full verification of one partition: a merge of the
// source stream and the target stream. See the package documentation.
type walker struct {
	*partition
	res     *PartitionReport
	fp      fingerprinter
	srcFeed feed
	cur     *kgo.Record // the next source record not yet matched or passed
	srcDone bool

	digests *digests

	// seen maps the source offsets whose first copy came in order to
	// that copy (source and target increase together, so it stays as
	// compact as the offset map); lastSrc and lastTgt are its last entry.
	seen             offsetmap.Map
	lastSrc, lastTgt int64
	// late holds out-of-order copies, for telling their duplicates.
	late map[int64]int64
	// pending holds the source records passed without a copy: gaps,
	// unless a copy comes later (out of order), or compaction on the
	// target explains them. Bounded by maxPending; beyond it gaps are
	// final at once (overflow).
	pending  map[int64]fingerprint
	overflow int64
	// keyWait indexes pending records by key hash, on compacted targets.
	keyWait map[uint64][]int64
}

func newWalker(p *partition, res *PartitionReport, src feed) *walker {
	return &walker{
		partition: p, res: res, fp: newFingerprinter(), srcFeed: src,
		digests: newDigests(),
		lastSrc: -1, lastTgt: -1,
		late: map[int64]int64{}, pending: map[int64]fingerprint{}, keyWait: map[uint64][]int64{},
	}
}

// run walks the target feed against the source feed. tail, if not nil,
// opens the target after the read range; it is read, for keys only, when
// copies are missing from a compacted target and no later record with
// their key has been seen yet.
func (w *walker) run(tgt feed, tail func() feed) error {
	for {
		r, err := tgt.next()
		if err != nil {
			return err
		}
		if r == nil {
			break
		}
		if err := w.target(r); err != nil {
			return err
		}
	}
	if err := w.advance(math.MaxInt64); err != nil {
		return err
	}
	if len(w.keyWait) > 0 && tail != nil {
		f := tail()
		for len(w.keyWait) > 0 {
			r, err := f.next()
			if err != nil {
				return err
			}
			if r == nil {
				break
			}
			w.resolveKey(r)
		}
	}
	w.finish()
	return nil
}

// pull reads the next source record that the mirror copies into cur.
func (w *walker) pull() error {
	for {
		r, err := w.srcFeed.next()
		if err != nil {
			return err
		}
		if r == nil {
			w.srcDone = true
			return nil
		}
		if _, k, _ := trace.FromCluster(r.Headers, w.targetID); k == trace.Copy {
			w.res.Counts.LoopedBack++
			continue
		}
		w.res.Counts.SourceRecords++
		w.cur = r
		return nil
	}
}

// advance passes the source records below o, each a (pending) gap: their
// copies did not come before the copy of o.
func (w *walker) advance(o int64) error {
	for {
		if w.cur == nil {
			if w.srcDone {
				return nil
			}
			if err := w.pull(); err != nil {
				return err
			}
			if w.cur == nil {
				return nil
			}
		}
		if w.cur.Offset >= o {
			return nil
		}
		w.gap(w.cur)
		w.cur = nil
	}
}

// What a target record is.
type identity uint8

const (
	isNative  identity = iota // trace.Native: written on the target, or copied from another cluster
	isCopy                    // trace.Copy: a copy of this partition
	isInvalid                 // trace.Corrupt or trace.Sibling: reported
)

// identify says what r is and, for a copy, of which source offset.
func (w *walker) identify(r *kgo.Record) (int64, identity) {
	if !w.headers {
		if o, exact, _ := w.m.Reverse(r.Offset); exact {
			return o, isCopy
		}
		return 0, isNative
	}
	h, k, err := trace.Of(r.Headers, w.source())
	switch k {
	case trace.Corrupt:
		w.problem(Problem{Kind: KindUnexpected, SourceOffset: -1, TargetOffset: r.Offset,
			Detail: fmt.Sprintf("target offset %d: %v", r.Offset, err)}, &w.res.Counts.Unexpected)
		return 0, isInvalid
	case trace.Native:
		return 0, isNative
	case trace.Sibling:
		w.problem(Problem{Kind: KindUnexpected, SourceOffset: h.Offset, TargetOffset: r.Offset,
			Detail: siblingDetail(r.Offset, h)}, &w.res.Counts.Unexpected)
		return 0, isInvalid
	}
	if restamp(r, h) {
		w.res.Counts.Restamped++
	}
	return h.Offset, isCopy
}

// source is the source partition whose copies p looks for.
func (p *partition) source() trace.Source {
	return trace.Source{ClusterID: p.sourceID, Topic: p.tp.Topic, Partition: p.tp.Partition}
}

// siblingDetail describes target offset t, a copy of another partition of
// the source (h), found where copies of this partition are.
func siblingDetail(t int64, h trace.Raw) string {
	return fmt.Sprintf("target offset %d is a copy of %s/%d offset %d, not of this partition", t, h.Topic, h.Partition, h.Offset)
}

// target handles the next target record.
func (w *walker) target(r *kgo.Record) error {
	defer w.resolveKey(r)
	t := r.Offset
	o, id := w.identify(r)
	c := &w.res.Counts
	switch {
	case id == isInvalid:
		return nil
	case id == isNative:
		c.Native++
		return nil
	case o >= w.src.Until && t >= w.targetNext:
		c.AfterSnapshot++
		return nil
	case o >= w.src.Until:
		w.problem(Problem{Kind: KindUnexpected, SourceOffset: o, TargetOffset: t,
			Detail: fmt.Sprintf("a copy of source offset %d, at or past the checkpoint (%d), lies before the checkpoint's target end (%d)", o, w.src.Until, w.targetNext)}, &c.Unexpected)
		return nil
	case o < w.src.From && o < w.sourceStart:
		c.SourceDeleted++
		return nil
	case o < w.src.From:
		w.problem(Problem{Kind: KindUnexpected, SourceOffset: o, TargetOffset: t,
			Detail: fmt.Sprintf("a copy of source offset %d, before the first copy the offset map records (source offset %d)", o, w.src.From)}, &c.Unexpected)
		return nil
	case o > w.lastSrc:
		return w.inOrder(r, o)
	}
	w.outOfOrder(r, o)
	return nil
}

// inOrder handles the first copy of source offset o, which comes after
// the copies of every lower offset seen so far.
func (w *walker) inOrder(r *kgo.Record, o int64) error {
	if err := w.advance(o); err != nil {
		return err
	}
	t := r.Offset
	c := &w.res.Counts
	var src *kgo.Record
	if w.cur != nil && w.cur.Offset == o {
		src, w.cur = w.cur, nil
	}
	switch {
	case src != nil:
		c.Copies++
		if f := diff(src, r); len(f) > 0 {
			w.digests.source(src)
			w.digests.target(r)
			w.mismatch(o, t, f)
		} else {
			w.digests.same(src, r)
			c.Matched++
		}
		if w.headers {
			w.checkMap(o, t)
		}
	case w.srcFeed.deletedAt(o):
		c.SourceDeleted++
	case w.sourceCompacted:
		c.CompactedOnSource++
	default:
		c.Copies++
		w.digests.target(r)
		w.problem(Problem{Kind: KindUnexpected, SourceOffset: o, TargetOffset: t,
			Detail: fmt.Sprintf("target offset %d is a copy of source offset %d, which holds no committed record on the source", t, o)}, &c.Unexpected)
	}
	if err := w.seen.Add(o, t); err != nil {
		return fmt.Errorf("%s: %w", w.tp, err)
	}
	w.lastSrc, w.lastTgt = o, t
	return nil
}

// outOfOrder handles a copy of a source offset at or below the last one
// copied in order: a duplicate, or a copy that comes late.
func (w *walker) outOfOrder(r *kgo.Record, o int64) {
	t := r.Offset
	c := &w.res.Counts
	first, exact, _ := w.seen.Lookup(o)
	if !exact {
		var ok bool
		first, ok = w.late[o]
		exact = ok
	}
	if exact {
		c.Copies++
		w.digests.target(r)
		w.problem(Problem{Kind: KindDuplicate, SourceOffset: o, TargetOffset: t, OtherTargetOffset: first,
			Detail: fmt.Sprintf("source offset %d is copied twice: at target offsets %d and %d", o, first, t)}, &c.Duplicates)
		return
	}
	fpr, ok := w.pending[o]
	switch {
	case ok:
		c.Copies++
		w.digests.target(r)
		delete(w.pending, o)
		w.problem(Problem{Kind: KindOutOfOrder, SourceOffset: o, TargetOffset: t, OtherTargetOffset: w.lastTgt,
			Detail: fmt.Sprintf("the copy of source offset %d (target offset %d) comes after the copy of source offset %d (target offset %d)", o, t, w.lastSrc, w.lastTgt)}, &c.OutOfOrder)
		if f := fpr.diff(w.fp.of(r)); len(f) > 0 {
			w.mismatch(o, t, f)
		}
		if len(w.late) < w.maxPending {
			w.late[o] = t
		}
	case w.srcFeed.deletedAt(o):
		c.SourceDeleted++
	case w.sourceCompacted:
		c.CompactedOnSource++
	default:
		c.Copies++
		w.digests.target(r)
		detail := fmt.Sprintf("target offset %d is a copy of source offset %d, which holds no committed record on the source", t, o)
		if w.overflow > 0 {
			detail = fmt.Sprintf("target offset %d is a copy of source offset %d, after the copy of source offset %d: out of order or a copy of a record the source does not hold (too many gaps were pending to tell)", t, o, w.lastSrc)
		}
		w.problem(Problem{Kind: KindUnexpected, SourceOffset: o, TargetOffset: t, Detail: detail}, &c.Unexpected)
	}
}

// checkMap checks that the offset map puts the copy of o at t, where it
// is: group translations use the map.
func (w *walker) checkMap(o, t int64) {
	exp, exact, _ := w.m.Lookup(o)
	switch {
	case !exact:
		w.problem(Problem{Kind: KindMapMismatch, SourceOffset: o, TargetOffset: t, ExpectedTargetOffset: -1,
			Detail: fmt.Sprintf("source offset %d is copied at target offset %d, but the offset map has no entry for it", o, t)}, &w.res.Counts.MapMismatches)
	case exp != t:
		w.problem(Problem{Kind: KindMapMismatch, SourceOffset: o, TargetOffset: t, ExpectedTargetOffset: exp,
			Detail: fmt.Sprintf("source offset %d is copied at target offset %d, but the offset map says %d", o, t, exp)}, &w.res.Counts.MapMismatches)
	}
}

func (w *walker) mismatch(o, t int64, fields []string) {
	w.problem(Problem{Kind: KindMismatch, SourceOffset: o, TargetOffset: t, Fields: fields,
		Detail: fmt.Sprintf("the copy of source offset %d at target offset %d differs in %v", o, t, fields)}, &w.res.Counts.Mismatches)
}

// gap registers a source record passed without a copy.
func (w *walker) gap(r *kgo.Record) {
	w.digests.source(r)
	if len(w.pending) >= w.maxPending {
		w.overflow++
		w.finalGap(r.Offset)
		return
	}
	fpr := w.fp.of(r)
	w.pending[r.Offset] = fpr
	if w.targetCompacted {
		w.keyWait[fpr.key] = append(w.keyWait[fpr.key], r.Offset)
	}
}

// resolveKey explains the pending gaps whose key r has, on a compacted
// target: compaction keeps only the latest record of a key.
func (w *walker) resolveKey(r *kgo.Record) {
	if len(w.keyWait) == 0 {
		return
	}
	h := w.fp.bytes(r.Key)
	for _, o := range w.keyWait[h] {
		if _, ok := w.pending[o]; ok {
			delete(w.pending, o)
			w.res.Counts.CompactedOnTarget++
		}
	}
	delete(w.keyWait, h)
}

func (w *walker) finalGap(o int64) {
	exp, exact, _ := w.m.Lookup(o)
	p := Problem{Kind: KindGap, SourceOffset: o, TargetOffset: -1, ExpectedTargetOffset: -1, OtherTargetOffset: -1}
	switch {
	case !exact:
		p.Detail = fmt.Sprintf("source offset %d has no copy on the target, and the offset map has no entry for it", o)
	case exp < w.tgt.From:
		p.ExpectedTargetOffset = exp
		p.Detail = fmt.Sprintf("source offset %d has no copy on the target: the offset map puts it at target offset %d, below the target's log start %d (deleted on the target)", o, exp, w.tgt.From)
	default:
		p.ExpectedTargetOffset = exp
		p.Detail = fmt.Sprintf("source offset %d has no copy on the target (the offset map puts it at target offset %d)", o, exp)
	}
	w.problem(p, &w.res.Counts.Gaps)
}

// finish turns what is still pending into gaps (or compaction on the
// target), and sets the digests and the status.
func (w *walker) finish() {
	for _, o := range slices.Sorted(maps.Keys(w.pending)) {
		if w.targetCompacted && w.pending[o].tombstone {
			w.res.Counts.CompactedOnTarget++
			continue
		}
		w.finalGap(o)
	}
	w.pending = nil
	src, tgt := w.digests.sums()
	d := &Digest{Source: src, Target: tgt, Comparable: w.res.Counts.CompactedOnTarget == 0}
	d.Match = d.Source == d.Target
	w.res.Digest = d
	w.res.Status = StatusOK
	if w.res.Counts.problems() > 0 {
		w.res.Status = StatusFailed
	} else if d.Comparable && !d.Match {
		w.res.Status = StatusFailed
		w.res.Notes = append(w.res.Notes, "the content digests differ although every record matched: report this as a kmigrate bug")
	}
}

// problem records p, counting it in *count and listing it while there is
// room. Offsets not set are -1.
func (w *walker) problem(p Problem, count *int64) {
	addProblem(w.res, p, count, w.maxListed)
}

func addProblem(res *PartitionReport, p Problem, count *int64, maxListed int) {
	*count++
	if p.Kind != KindGap && p.Kind != KindMapMismatch {
		p.ExpectedTargetOffset = -1
	}
	if p.Kind != KindDuplicate && p.Kind != KindOutOfOrder {
		p.OtherTargetOffset = -1
	}
	if len(res.Problems) < maxListed {
		res.Problems = append(res.Problems, p)
	} else {
		res.Unlisted++
	}
}
