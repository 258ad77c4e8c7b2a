// Package plan answers "what would this migration do now?" before anything
// is written: `kmigrate plan`. It combines the pre-flight check (access and
// features, package preflight), the topic plan (create, resume, reuse or
// conflict, with configs copied and dropped, package topics), the source
// ranges each partition would copy with the start position applied
// exactly as the mirror applies it (mirror.StartOffsets, or the checkpoint
// of a resumed partition), ranges that expired from the source, and the
// consumer groups with their verdicts (groups.List), into one Report whose
// JSON form is a documented, versioned schema (docs/plan.md).
//
// Record counts are offsets (end minus start): exact for plain topics, an
// upper bound where compaction gaps, transaction markers or aborted records
// lie in the range. Byte estimates scale each partition's size on disk
// (DescribeLogDirs) by the share of its offsets to copy; -1 when the
// cluster does not report sizes.
package plan
