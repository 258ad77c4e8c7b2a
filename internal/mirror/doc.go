// Package mirror copies records from source partitions to the same
// partitions of target topics, in order, exactly once, resumable from state
// kept on the target.
//
// # Exactly once
//
// The mirror is a transactional producer on the target with one
// transactional id per migration. Each transaction carries a run of copied
// records and, in the migration's state topic (package state), the
// checkpoint of every partition it touched (the next source offset to copy)
// and the offset map segments describing where the records landed. Records
// and checkpoints therefore become visible together or not at all.
//
// A session starts by initialising the producer id. That fences any other
// process using the same transactional id (a zombie from before a crash, or
// a second process started by mistake) and aborts its open transaction.
// Only then does it read the state topic with read_committed isolation, so
// the checkpoints it resumes from can never be ahead of, or behind, the
// committed records: no loss, no duplicate, after kill -9 at any point.
//
// # Reading
//
// The source is read with read_committed isolation, keeping control records
// so that the position advances past transaction markers and aborted
// records even though nothing is copied for them. Offsets below the source
// log start (expired data) are never silently skipped: they are reported as
// Expired ranges in the state topic and the run summary.
//
// The mirror's consumers do without fetch sessions (KIP-227): each fetch
// names all its partitions instead of only the changed ones. A session is
// closed with a fetch possibly in flight (a rebalance, a cancelled run, a
// retry), and franz-go v1.22's Close reads a source's fetch session id
// while a fetch answer may still be writing it, a data race the race
// detector reports. Without sessions nothing writes it. The price is a
// fetch request of about 32 bytes per partition of the broker (32 KiB for
// 1,000 partitions, at most two per second when idle), and units divide it
// between processes.
//
// # Records
//
// A copied record keeps its partition, key, value, headers and timestamp.
// Any kmigrate* header on the source record is replaced by this hop's
// tracing header (package trace) unless tracing is off. A record whose
// tracing header says it came from the target cluster is not copied back:
// that is what makes mirroring in reverse after a cutover safe.
//
// # Failure
//
// Errors inside a session (a broker restart, a dropped connection, an
// aborted transaction) end the session; Run starts a new one after a
// backoff, which resumes from the state topic. Being fenced, missing
// permissions and state belonging to other clusters end Run. A record
// larger than its target topic accepts stops only its partition, with an
// error naming topic, partition and offset.
package mirror
