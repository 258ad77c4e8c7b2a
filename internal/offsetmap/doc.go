// Package offsetmap keeps, for each mirrored partition, which source offset
// was copied to which target offset, so that a consumer group's committed
// offset can be translated exactly (source to target for a migration,
// target to source for a rollback) by any machine, long after the copy.
//
// Offsets differ between the two sides because both have gaps. The source
// has offsets that are not copied: records removed by compaction,
// transaction markers, records of aborted transactions. The target has
// offsets that hold no copy: the commit marker of each of our transactions
// (one offset per transaction), and records written there natively. A
// partition's mapping is therefore a list of runs, each a range of
// consecutive source offsets copied to consecutive target offsets (Run);
// a new run starts at every gap on either side. In exactly-once mode every
// transaction ends a run, so a partition has about one run per transaction,
// and lookups are binary searches over them.
//
// The package is pure: it does no Kafka I/O. The mirror feeds a Segmenter;
// the commands that translate offsets Load the persisted segments and query
// the Map.
//
// # Translation
//
// A committed offset names the next record to read. Map.Lookup therefore
// translates a source offset that was not copied (a gap, or before the
// first copied record) to the target offset of the first copied record
// after it: that is the record the consumer would have received first. A
// position at or after the end of the mapped data translates to the end of
// the mapped data on the target. Map.Reverse does the same in the other
// direction.
//
// # Segment encoding, version 1
//
// Varints are Go's encoding/binary unsigned varints (LEB128, as in Protocol
// Buffers), and must be minimal. A segment value is
//
//	byte 0    version, 1
//	uvarint   number of runs
//	per run, relative to the end of the previous run (the first relative to 0):
//	uvarint   source gap: Source - previous SourceEnd
//	uvarint   target gap: Target - previous TargetEnd
//	uvarint   Len, >= 1
//
// Nothing may follow the last run. Gaps are unsigned because runs strictly
// increase on both sides. In exactly-once mode the target gap is 1 (the
// commit marker) and the source gap is usually 0 or 1 (a source
// transaction marker), so a run of up to 16383 records costs 3 or 4 bytes
// and a segment of 256 runs about 1 KiB. For example the runs
// {100->200 len 10}, {110->211 len 5}, {120->217 len 300} encode as
//
//	01 03  64 c8 01 0a  00 01 05  05 01 ac 02
//
// # Persistence contract
//
// The map of a partition is persisted as segment records in an internal
// compacted topic on the target cluster. Package offsetmap defines the
// segments; the caller defines the record key, which must identify the
// partition and the segment key (Segment.Key, the first source offset the
// segment covers), so that compaction keeps the latest version of each
// segment.
//
//   - A segment holds at most maxRuns consecutive runs of the map (the last
//     segment may exceed it after a restart with a smaller maxRuns; it is
//     then closed at the next new run). Segments do not overlap.
//   - Only the last segment, the open one, ever changes, and it only grows:
//     runs are appended and its last run is extended. Once a new run does
//     not fit, it starts a new segment and the previous one is closed for
//     good. A segment's key never changes.
//   - After the records of a transaction, the mirror writes the segments
//     that Segmenter.Pending returns in the same transaction, then calls
//     Commit when the transaction commits or Abort when it aborts. The
//     persisted map is then always exactly the map of the committed
//     records. Usually one small segment per partition is rewritten per
//     transaction; two when a segment closes.
//   - The number of segment records after compaction is runs/maxRuns,
//     rounded up.
//   - To rebuild a map, read every committed segment record of the
//     partition (read_committed: aborted versions must not be seen) and
//     pass them, in any order, to Load (for lookups) or NewSegmenter (to
//     continue mirroring). Before compaction a key may appear in several
//     versions; each is an earlier state of the next, so the one reaching
//     furthest wins, and versions that disagree are reported (ErrConflict)
//     rather than guessed at.
//
// Loading and re-segmenting are stable: Load of the segments a Segmenter
// wrote gives back the same runs, and a Segmenter created from them
// continues with the same segment keys.
package offsetmap
