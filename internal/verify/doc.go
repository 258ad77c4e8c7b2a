// Package verify proves, record by record, that a migration's target holds
// exactly what it should: every copyable source record copied once, in
// order, with the same key, value, headers and timestamp, and every
// migrated consumer group positioned at the translation of its source
// position. It only reads both clusters. `kmigrate verify` prints its
// Report.
//
// # What is verified: the snapshot
//
// The migration's state (package state) is read once, before anything
// else; its checkpoints bound the verification, so a mirror that keeps
// running does not move the goal posts. For each mirrored partition:
//
//   - the source range is [max(source log start, first copied source
//     offset), Checkpoint.Next). Offsets below the first copied one were
//     never part of the copy (the mirror's start position, or nothing
//     copyable); offsets the source deleted after they were copied cannot
//     be compared (Counts.SourceDeleted, and a note naming the log start);
//     ranges that expired before the mirror reached them are listed from
//     the state (state.Expired), not counted as loss; offsets at or past
//     the checkpoint are pending (Counts.Pending): "not yet verified".
//   - the target range is [target log start, last stable offset) with
//     tracing headers, so that a copy written twice after the checkpoint
//     is still seen (copies of later source offsets there are the mirror's
//     work after the snapshot, Counts.AfterSnapshot); without tracing
//     headers it ends at the checkpoint's target end, since records past
//     it cannot be told from native ones.
//
// # Full mode: a merge walk
//
// Both ranges are streamed at once, read_committed (records of aborted
// transactions are not read; markers and compaction gaps are passed),
// with raw fetches through package partread, which drops aborted records
// by the transaction markers even when a broker leaves its list of aborted
// transactions out, and reads ahead to a marker that lies past a response
// (those fetches count in Totals.FetchesSent and BytesRead): a goroutine
// per stream keeps one fetch in flight and one response waiting, so a
// partition holds about six fetch responses
// (three per cluster) and Options.Parallel partitions are verified at once.
// Nothing else grows with the data except the bounded lists below.
//
// Each target record is identified: with tracing headers, a record whose
// kmigrate.src header names the source cluster, topic and partition is the
// copy of the source offset it names; without them, a target offset the
// offset map maps exactly (Map.Reverse) is the copy of its source offset.
// A tracing header that does not decode, or that names another partition
// of the source, is unexpected (trace.Of says Corrupt or Sibling; the one
// rule is in package trace). Anything else is native (written on the
// target, counted, not compared).
// Source records whose tracing header names the target cluster are
// copies of target records that the mirror never copies back
// (Counts.LoopedBack).
//
// Copies of one source partition appear in source offset order on a
// correct target, so the walk keeps one cursor in the source stream. A
// copy of source offset o beyond the last one matched moves the cursor to
// o: source records passed on the way have no copy so far and become
// pending; the record at o is compared with the copy field by field (key,
// value, headers without the tracing headers, timestamp; null is not
// empty). With tracing headers, the offset map must put o at the copy's
// target offset too (KindMapMismatch otherwise: group translations use the
// map). A copy of an offset at or below the last one matched is a
// duplicate when that offset has been matched (the in-order matches are
// kept as runs in an offsetmap.Map, as compact as the offset map itself),
// and out of order when it is pending: it is then compared with the
// fingerprint (64-bit hashes per field) kept for the pending record. At
// the end, what is still pending is a gap, listed with the target offset
// the offset map gives it, and whether that lies below the target's log
// start (deleted on the target). At most Options.MaxPending records are
// pending at once; beyond that, gaps are final when found.
//
// Compaction explains some differences, which are counted and not
// problems: a copy whose source record compaction removed since, on a
// compacted source topic (Counts.CompactedOnSource); a missing copy on a
// compacted target topic when a later target record has the same key
// (pending records are indexed by key hash; if needed, the target is read
// past the range, up to its current end, for keys only) or the record is a
// tombstone (Counts.CompactedOnTarget). A copy of a source offset that
// holds no committed record, on a source that is not compacted, is
// KindUnexpected.
//
// Per partition, two order-sensitive SHA-256 digests are computed over the
// verified source records and over their copies (in target order,
// duplicates included; copies of records the source no longer holds
// excluded). Each record contributes its key, value, headers without the
// tracing headers, and timestamp; the encoding is documented on digester.
// When no problem was found the digests are equal; when compaction removed
// copies from the target they are not comparable (Digest.Comparable).
//
// # Sample mode
//
// Options.Sample > 0 checks that many evenly spaced source offsets per
// partition (the first and last included): the first source record at or
// after each is fetched, its copy located with the offset map, fetched,
// identified by its tracing header and compared. Copies the map puts below
// the target's log start are gaps, counted from the map without reading.
// Then only the target after the last mapped copy is read, which finds
// copies written twice at the end. Counts come from the offset map. It
// cannot see a duplicate or reordering between sampled offsets.
//
// # Consumer groups
//
// For each selected group of the source with a committed offset on a
// mirrored target topic (a migrated group), each mirrored partition's
// committed source offset is translated with groups.Translate over the
// snapshot's offset map and compared with the group's target offset:
// equal is ok; past it is "advanced" (the group consumed on the target,
// informative); before it with only non-copies in between is
// "native-first" (the group reads records written natively on the target
// first, as groups migrate commits it); before it with copies in between
// is "behind" (it would re-read them): a failure, as is a mirrored
// partition with a source offset and no target offset. A source offset
// past the snapshot's checkpoint is not verifiable yet. Groups without
// target offsets are reported as not migrated.
//
// # Results
//
// The Report's JSON form is a stable schema (SchemaVersion). Problems are
// listed per partition with their source and target offsets (at most
// Options.MaxListed; all are counted), sorted by source offset. Report.OK is
// true only when no partition failed or could not be read and no migrated
// group is misplaced.
//
// Limits: a target whose retention deleted copies that the source still
// holds shows gaps (the source range is what the source holds); without
// tracing headers, a copy written twice looks like a native record.
//
// Files: verify.go (Options, Run, planning the ranges), walk.go (the full
// walk), reader.go (streams over partread readers), compare.go (field
// comparison, fingerprints, the digest), sample.go, groups.go, report.go
// (the result types).
package verify
