// Package offsets translates positions that applications keep outside
// Kafka (Flink and Spark checkpoints, Kafka Connect sink connectors' own
// stores, databases) from the source cluster to the target, or back: what
// `kmigrate offsets translate` prints and GET /v1/translate serves.
//
// Why a package of its own: such an application is a consumer group whose
// offsets Kafka never sees, so it must get exactly the answer `kmigrate
// groups migrate` would commit for a group stopped at the same position,
// and both the command line and the HTTP server ask. The rules are the
// groups package's, used through its exported pieces, never re-derived:
//
//   - groups.Translate from the offset map and checkpoint in the state
//     topic gives the kind (exact, next-copied, end, expired,
//     not-yet-mirrored) and the target offset;
//   - natives first: records written natively on the target between the
//     last copy the application consumed (groups.ReachBound) and the copy
//     of its next record are new to it, so the answer moves back to the
//     first of them (Answer.Native counts them), as Migrate does;
//   - unreachable natives: natives before the last copy it consumed are
//     never delivered from the exact position; like Migrate, a translation
//     refuses (ErrUnreachable, wrapping groups.ErrUnreachableNatives)
//     unless the caller chooses groups.NativesSkip (keep the exact
//     position) or groups.NativesReread (the first of them).
//
// Reverse (the way back, target to source) is groups.TranslateBack of the
// target offset; natives written on the target after it have no source
// counterpart and are not counted here (groups rollback counts them).
//
// A Translator reads the state once (New) and answers from that snapshot,
// so a file of positions is translated against one consistent picture.
// The native-record reads go through a groups.NativeCache: each target
// partition's gaps are read once.
//
// Input formats (parse.go): lines of `topic partition offset`; a JSON
// object of topic -> partition -> offset (a Spark Structured Streaming
// checkpoint's Kafka source offsets, also as the whole offsets/<batch> log
// file with its version and metadata lines); a JSON list of {"topic",
// "partition", "offset"} objects (a Flink-style export of a Kafka source's
// split offsets). Rewrite writes the same format back with target topics
// and offsets, so a checkpoint file can be rewritten in place.
package offsets
