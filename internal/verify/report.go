package verify

import (
	"cmp"
	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/groups"
	"slices"
	"time"
)

// SchemaVersion is the version of the Report's JSON form. Fields are only
// ever added within a version; a change of meaning or a removal makes a new
// version.
const SchemaVersion = 1

// Report is the result of one verification. Its JSON form (`kmigrate verify
// --output json`) is a stable schema, versioned by SchemaVersion.
type Report struct {
	Version   int    `json:"version"`
	Migration string `json:"migration"`
	// Mode is ModeFull or ModeSample; Sample is the number of source
	// offsets checked per partition in sample mode.
	Mode   string `json:"mode"`
	Sample int    `json:"sample,omitempty"`
	// TracingHeaders says how copies were identified: by their tracing
	// header (true) or by the offset map (false).
	TracingHeaders bool `json:"tracing_headers"`
	// Guarantee is the migration's delivery guarantee (exactly-once or
	// at-least-once).
	Guarantee string `json:"guarantee"`
	// Snapshot is when the verification started: what the mirror
	// checkpointed before it is verified, what it copied later is
	// reported as pending.
	Snapshot time.Time `json:"snapshot"`
	// Seconds is how long the verification took.
	Seconds    float64           `json:"seconds"`
	Partitions []PartitionReport `json:"partitions"`
	Groups     []GroupReport     `json:"groups"`
	Totals     Totals            `json:"totals"`
	// Access compares the migration's ACL bindings, client quotas and
	// SCRAM users on both sides (kmigrate access verify's comparison). It
	// is reported, not part of OK: OK is about the records and groups.
	Access *acls.Access `json:"access"`
	// OK is true when everything verified matches: no partition failed or
	// could not be read, and every migrated group resumes where it
	// should. It is the exit status of `kmigrate verify`.
	OK bool `json:"ok"`
}

// Modes of a verification.
const (
	ModeFull   = "full"
	ModeSample = "sample"
)

// Partition statuses.
const (
	// StatusOK: every verified record matches.
	StatusOK = "ok"
	// StatusFailed: the partition has problems (see Problems).
	StatusFailed = "failed"
	// StatusError: the partition could not be verified (see Error).
	StatusError = "error"
	// StatusNotMirrored: the mirror has not started the partition (no
	// checkpoint): nothing to verify, its offsets are pending.
	StatusNotMirrored = "not-mirrored"
)

// PartitionReport is what was found in one mirrored partition.
type PartitionReport struct {
	// Topic and Partition name the source partition; TargetTopic is its
	// copy's topic (the partition number is the same).
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	TargetTopic string `json:"target_topic"`
	// Status is one of StatusOK, StatusFailed, StatusError,
	// StatusNotMirrored.
	Status string `json:"status"`
	// Source is the verified source range: from the first copied source
	// offset the source still holds to the checkpoint of the snapshot.
	// Target is the range of the target partition that was read.
	Source Range  `json:"source"`
	Target Range  `json:"target"`
	Counts Counts `json:"counts"`
	// Digest holds the partition's content digests (full mode only).
	Digest *Digest `json:"digest,omitempty"`
	// Expired are source ranges deleted before the mirror could copy
	// them (from the migration state): reported, not counted as loss.
	Expired []ExpiredRange `json:"expired,omitempty"`
	// Problems lists what does not match, by source offset (at most
	// Options.MaxListed; Unlisted counts the rest).
	Problems []Problem `json:"problems"`
	Unlisted int64     `json:"unlisted_problems,omitempty"`
	// Notes explain what was not verified and why, for people.
	Notes []string `json:"notes,omitempty"`
	// Error is why the partition could not be verified.
	Error string `json:"error,omitempty"`
}

// OK reports whether the partition passes: verified without a problem, or
// not started by the mirror yet.
func (p *PartitionReport) OK() bool { return p.Status == StatusOK || p.Status == StatusNotMirrored }

// Range is the offsets [From, Until).
type Range struct {
	From  int64 `json:"from"`
	Until int64 `json:"until"`
}

// Len is the number of offsets in r.
func (r Range) Len() int64 { return max(0, r.Until-r.From) }

// Counts are a partition's record counts. All are exact in full mode; in
// sample mode SourceRecords and Copies come from the offset map, and the
// problem counts cover the sampled offsets and the ends.
type Counts struct {
	// SourceRecords is the committed source records in the source range
	// that the mirror copies (LoopedBack excluded).
	SourceRecords int64 `json:"source_records"`
	// Copies is the target records that are copies of source offsets in
	// the source range, duplicates included.
	Copies int64 `json:"copies"`
	// Matched is the source records whose copy is in place, once, with
	// equal key, value, headers and timestamp.
	Matched int64 `json:"matched"`
	// Sampled is the number of source records checked in sample mode.
	Sampled int64 `json:"sampled,omitempty"`
	// Native is the target records in the target range that are no copy
	// of this source partition (written on the target, or copied from
	// elsewhere): counted, not compared.
	Native int64 `json:"native"`
	// LoopedBack is the source records whose tracing header names the
	// target cluster: copies of target records, never copied back.
	LoopedBack int64 `json:"looped_back,omitempty"`
	// Restamped is the copies the target stamped with its own time
	// (message.timestamp.type=LogAppendTime): their timestamp was
	// compared as the source timestamp their tracing header keeps.
	Restamped int64 `json:"restamped,omitempty"`

	// The problems, each also listed in Problems.
	Gaps          int64 `json:"gaps"`
	Duplicates    int64 `json:"duplicates"`
	OutOfOrder    int64 `json:"out_of_order"`
	Mismatches    int64 `json:"mismatches"`
	MapMismatches int64 `json:"map_mismatches"`
	Unexpected    int64 `json:"unexpected"`

	// Explained differences, not problems.
	//
	// CompactedOnSource: copies of source records that compaction has
	// removed from the source since (the source topic is compacted).
	CompactedOnSource int64 `json:"compacted_on_source,omitempty"`
	// CompactedOnTarget: source records whose copy compaction removed
	// from the (compacted) target topic: a later record with the same key
	// is on the target, or the record is a tombstone.
	CompactedOnTarget int64 `json:"compacted_on_target,omitempty"`

	// Not verified.
	//
	// BeforeFirstCopy: source offsets the source holds below the first
	// copied one; the mirror started after them (its start position) or
	// they hold nothing it copies.
	BeforeFirstCopy int64 `json:"before_first_copy,omitempty"`
	// SourceDeleted: copies of source offsets the source no longer holds
	// (its log start passed them after they were copied): not compared.
	SourceDeleted int64 `json:"source_deleted,omitempty"`
	// Pending: source offsets at or past the snapshot's checkpoint, up to
	// the source's end: not yet mirrored at the snapshot, not verified.
	Pending int64 `json:"pending"`
	// AfterSnapshot: copies the mirror wrote after the snapshot (of
	// source offsets past its checkpoint), seen and not verified.
	AfterSnapshot int64 `json:"after_snapshot,omitempty"`
}

func (c *Counts) problems() int64 {
	return c.Gaps + c.Duplicates + c.OutOfOrder + c.Mismatches + c.MapMismatches + c.Unexpected
}

// Digest is a partition's order-sensitive content digests: SHA-256 over the
// verified source records and over their copies on the target, in
// partition order (see the package documentation for the exact encoding).
type Digest struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// Match says the two are equal.
	Match bool `json:"match"`
	// Comparable is false when compaction on the target removed copies:
	// the digests then differ by design, and the per-record comparison
	// stands alone.
	Comparable bool `json:"comparable"`
}

// ExpiredRange is a source range that was gone before the mirror reached
// it (state.Expired).
type ExpiredRange struct {
	From   int64  `json:"from"`
	Until  int64  `json:"until"`
	Count  int64  `json:"count"`
	Reason string `json:"reason"`
}

// Kind is what kind of problem a Problem is.
type Kind string

// The kinds of problems.
const (
	// KindGap: a source record has no copy on the target.
	// ExpectedTargetOffset is where the offset map puts it.
	KindGap Kind = "gap"
	// KindDuplicate: a source record has more than one copy.
	// TargetOffset is the extra copy, OtherTargetOffset the first.
	KindDuplicate Kind = "duplicate"
	// KindOutOfOrder: a copy comes after the copy of a later source
	// record (OtherTargetOffset).
	KindOutOfOrder Kind = "out-of-order"
	// KindMismatch: the copy differs from its source record in Fields.
	KindMismatch Kind = "mismatch"
	// KindMapMismatch: the copy is not where the offset map says
	// (ExpectedTargetOffset; -1 when the map has no entry): consumer
	// group translations would point at the wrong record.
	KindMapMismatch Kind = "map-mismatch"
	// KindUnexpected: a copy of a source offset that holds no committed
	// source record (and the source is not compacted), or that lies
	// outside what the mirror had copied; or a tracing header that does
	// not decode.
	KindUnexpected Kind = "unexpected"
)

// The fields a KindMismatch names.
const (
	FieldKey       = "key"
	FieldValue     = "value"
	FieldHeaders   = "headers"
	FieldTimestamp = "timestamp"
)

// Problem is one place where the target does not match the source. Offsets
// that do not apply are -1.
type Problem struct {
	Kind         Kind  `json:"kind"`
	SourceOffset int64 `json:"source_offset"`
	TargetOffset int64 `json:"target_offset"`
	// ExpectedTargetOffset is where the offset map puts the copy (gaps,
	// map mismatches).
	ExpectedTargetOffset int64 `json:"expected_target_offset"`
	// OtherTargetOffset is a duplicate's first copy, or the copy an
	// out-of-order copy comes after.
	OtherTargetOffset int64 `json:"other_target_offset"`
	// Fields are the differing fields of a mismatch: key, value,
	// headers, timestamp.
	Fields []string `json:"fields,omitempty"`
	// Detail says it in words.
	Detail string `json:"detail"`
}

// Group statuses.
const (
	// GroupOK: every mirrored position of the group on the target is
	// the translation of its source position (or past it).
	GroupOK = "ok"
	// GroupFailed: some position would make the group re-read or skip.
	GroupFailed = "failed"
	// GroupNotMigrated: the group has no committed offset on a mirrored
	// target topic.
	GroupNotMigrated = "not-migrated"
	// GroupError: the group's offsets could not be read.
	GroupError = "error"
)

// Group partition statuses.
const (
	// PositionOK: the target offset is the translation.
	PositionOK = "ok"
	// PositionNativeFirst: the target offset is before the translation
	// with only records written natively on the target (and markers) in
	// between: the group reads those first, as groups migrate commits.
	PositionNativeFirst = "native-first"
	// PositionAdvanced: the group has consumed past the translation on
	// the target. Informative.
	PositionAdvanced = "advanced"
	// PositionBehind: the target offset is before the translation and
	// copies lie in between: the group would re-read them. A failure.
	PositionBehind = "behind"
	// PositionMissing: the group committed on the source and has other
	// positions on the target, but none here: it would start from its
	// reset policy. A failure.
	PositionMissing = "missing"
	// PositionNotYetMirrored: the source position is past the
	// snapshot's checkpoint: not verifiable yet.
	PositionNotYetMirrored = "not-yet-mirrored"
	// PositionTargetOnly: committed on the target only. Informative.
	PositionTargetOnly = "target-only"
	// PositionError: the source offset does not translate (the offset
	// map and the checkpoint disagree). A failure.
	PositionError = "error"
)

// GroupReport is where one consumer group will resume on the target.
type GroupReport struct {
	Group string `json:"group"`
	// Status is GroupOK, GroupFailed, GroupNotMigrated or GroupError.
	Status     string           `json:"status"`
	Partitions []GroupPartition `json:"partitions"`
	Error      string           `json:"error,omitempty"`
}

// GroupPartition is one group's position in one mirrored partition.
type GroupPartition struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	TargetTopic string `json:"target_topic"`
	// SourceOffset and TargetOffset are the committed offsets, -1 when
	// none.
	SourceOffset int64 `json:"source_offset"`
	TargetOffset int64 `json:"target_offset"`
	// Translation is SourceOffset translated to the target with the
	// offset map (-1 when not applicable), Kind how (exact,
	// next-copied, end, expired, not-yet-mirrored).
	Translation int64       `json:"translation"`
	Kind        groups.Kind `json:"kind,omitempty"`
	// Status is one of the Position constants.
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Totals sum the partitions.
type Totals struct {
	Partitions     int   `json:"partitions"`
	Failed         int   `json:"failed_partitions"`
	Errors         int   `json:"error_partitions"`
	SourceRecords  int64 `json:"source_records"`
	Copies         int64 `json:"copies"`
	Matched        int64 `json:"matched"`
	Problems       int64 `json:"problems"`
	Pending        int64 `json:"pending"`
	GroupsChecked  int   `json:"groups_checked"`
	GroupsFailed   int   `json:"groups_failed"`
	BytesRead      int64 `json:"bytes_read"`
	FetchesSent    int64 `json:"fetches"`
	RecordsRead    int64 `json:"records_read"`
	SampledRecords int64 `json:"sampled_records,omitempty"`
}

// finish sorts the report, sums the totals and sets OK.
func (r *Report) finish() {
	slices.SortFunc(r.Partitions, func(a, b PartitionReport) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	r.OK = true
	t := &r.Totals
	t.Partitions = len(r.Partitions)
	for i := range r.Partitions {
		p := &r.Partitions[i]
		slices.SortStableFunc(p.Problems, func(a, b Problem) int {
			return cmp.Or(cmp.Compare(a.SourceOffset, b.SourceOffset), cmp.Compare(a.TargetOffset, b.TargetOffset))
		})
		switch p.Status {
		case StatusFailed:
			t.Failed++
		case StatusError:
			t.Errors++
		}
		if !p.OK() {
			r.OK = false
		}
		if p.Counts.Restamped > 0 {
			p.Notes = append(p.Notes, restampNote(p.Counts.Restamped))
		}
		t.SourceRecords += p.Counts.SourceRecords
		t.Copies += p.Counts.Copies
		t.Matched += p.Counts.Matched
		t.Problems += p.Counts.problems()
		t.Pending += p.Counts.Pending
		t.SampledRecords += p.Counts.Sampled
	}
	t.GroupsChecked = len(r.Groups)
	for _, g := range r.Groups {
		if g.Status == GroupFailed || g.Status == GroupError {
			t.GroupsFailed++
			r.OK = false
		}
	}
}
