// Package trace writes and reads the tracing header that kmigrate puts on
// every record it mirrors. The header says where the record came from:
// source cluster id, topic, partition, offset and timestamp.
//
// Three later steps depend on it, which is why it is written on every record
// rather than kept only in a side table:
//
//   - Offset translation. A consumer group's committed source offset is
//     translated exactly by a binary search over the target partition that
//     reads this header (the offset map in package offsetmap is the fast
//     path; the header is the ground truth it can be rebuilt and checked
//     from).
//   - Verification. A copy can be compared with its source record by record.
//   - Loop prevention. When mirroring in reverse (target back to source, for
//     rollback or active-active), a record whose origin cluster is the cluster
//     being written to is a record we copied there ourselves and must not be
//     copied back.
//
// # Header
//
// The header key is HeaderKey ("kmigrate.src"). Every header kmigrate adds
// starts with "kmigrate" (see IsTracing); Strip removes them all, so that a
// mirror never propagates another kmigrate's tracing headers, and so that
// verification can compare the user's headers only.
//
// If a record carries several HeaderKey headers, the last one wins (Find).
//
// # Is this record a copy? The one rule
//
// Every reader that asks "is this target record a copy of source partition
// X" (verify, status, the mirror's recovery of a lost commit, groups) or
// "did this record come from cluster C" (the mirror's loop prevention) asks
// Of or FromCluster, so that they cannot drift apart. The answer is a Kind:
// Copy (the header names X, or C), Sibling (it names another partition of
// X's cluster), Native (no header, or one naming another cluster), or
// Corrupt.
//
// A corrupt header (present but not decodable: a newer format version, or
// damaged bytes) is Corrupt, never Native and never Copy. The record claims
// to be a copy, so taking it for a native write could move a group past
// records or call a producer switchover on no evidence, and its source
// offset is unknown, so it cannot count as any copy either. Readers that
// must be exact stop (groups: ErrCorruptHeader) or report it (verify:
// unexpected); status leaves it out of its evidence of native writes; the
// mirror's recovery does not take it for a copy it made. The mirror's loop
// prevention copies a source record with a corrupt header (with the header
// replaced): it cannot be shown to come from the target, and dropping a
// source record would lose data.
//
// # Value format, version 1
//
// The value is compact binary. Varints are Go's encoding/binary varints
// (the same as Protocol Buffers): "uvarint" is an unsigned LEB128 integer,
// "varint" is a zigzag-encoded signed integer written as a uvarint. Both must
// be minimal (no redundant trailing 0x80 groups), so every Origin has exactly
// one encoding.
//
//	byte 0      version, 1
//	uvarint     length of the source cluster id, in bytes
//	bytes       source cluster id (as Metadata reports it, UTF-8)
//	uvarint     length of the topic name, in bytes
//	bytes       source topic name
//	varint      source partition, 0 <= p <= 2^31-1
//	varint      source offset, >= 0
//	varint      source record timestamp, Unix milliseconds as Kafka stores
//	            it (any int64; -1 means the record had none)
//
// Nothing may follow the timestamp. For example cluster "c1", topic "t",
// partition 3, offset 300, timestamp 1700000000000 encodes as the 15 bytes
//
//	01 02 63 31 01 74 06 d8 04 80 a0 ab fe f9 62
//
// A typical value (22-byte cluster id, 20-byte topic, offset in the
// billions, current timestamp) is 57 bytes.
//
// A reader must reject a version it does not know (Decode returns an error
// wrapping ErrVersion) rather than guess: a later version may change the
// meaning of the fields. Code that only needs to know whether a record was
// written by kmigrate can rely on the header key alone.
//
// # Cost
//
// The header is written for every record on the mirror's hot path, so an
// Encoder precomputes the constant prefix (version, cluster id, topic) once
// per source topic, and Append writes a value without allocating when dst
// has room (see BenchmarkAppend). For reading on hot paths (loop
// prevention), DecodeRaw returns the strings as sub-slices of the value and
// does not allocate; Decode allocates once for both strings.
package trace
