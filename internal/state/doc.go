// Package state keeps a migration's state on the target cluster, in one
// compacted topic per migration (TopicName), so that any machine can resume,
// verify or report on a migration, and the local disk holds nothing that
// matters.
//
// The topic has one partition, so that a single read returns a consistent
// picture, and every record has a key, so that compaction keeps only the
// latest version of each:
//
//	meta                                  Meta (JSON): who this migration is
//	checkpoint/<topic>/<partition>        Checkpoint (JSON): next source offset to copy
//	offsetmap/<topic>/<partition>/<first> one offset map segment (offsetmap encoding)
//	expired/<topic>/<partition>/<from>    Expired (JSON): a source range that was gone before it could be copied
//	heartbeat                             Heartbeat (JSON): an idle mirror's sign of life
//	phase, promoted/<topic>, switched/<group>, event/<time>
//	                                      cutover facts (cutover.go), each under its own key
//	verify                                Verified (JSON): the last kmigrate verify run's summary
//
// <topic> is the source topic name (Kafka topic names cannot contain '/').
// In exactly-once mode the mirror writes checkpoints and offset map segments
// in the same transaction as the records they describe, so a reader with
// read_committed isolation never sees a checkpoint ahead of its records.
// Load reads through partread, so the markers, not the broker's aborted
// list, decide which transactions' records count.
package state
