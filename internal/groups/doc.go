// Package groups migrates consumer groups: it translates the offsets they
// committed on one cluster to the other, exactly, and commits them there.
// translate.go and search.go are the translation core; migrate.go
// (Migrate: source to target), rollback.go (Rollback: target to source)
// and sync.go (Syncer: continuous sync while mirroring) build on it;
// list.go reports; unreachable.go finds native records a position never
// delivers.
//
// # Exactness
//
// A committed offset c names the next record a group will read. A
// translation of c to the target is exact when a read_committed consumer
// that starts at the translated offset first receives the copy of the
// record at source offset c or, if c held no copied record (removed by
// compaction, a transaction marker, a record of an aborted transaction),
// the copy of the first copied record after c. Nothing is received twice
// and nothing is skipped. Records written natively on the target (by
// producers that already switched) carry no tracing header and are never
// the answer of Translate and Search: the translated offset always holds a
// mirrored record, unless the group is caught up (Kind End).
//
// Native records matter to the group, though: it has never seen them (they
// are not on the source). Migrate and the Syncer therefore look at the
// stretch between the last copy the group consumed and the copy of its next
// record (Map.Before; it holds no copy, only markers, aborted records and
// native records) and, when it holds native records, commit the offset of
// the first of them: the group reads them, then the copy of c.
//
// Natives written before the last copy the group consumed (producers that
// moved while the mirror still copied older records) cannot be reached
// with one offset per partition without re-reading that copy: they are
// unreachable. ReachBound gives, for a translation, one past the last copy
// the group consumed; the natives below it are found by reading only the
// gaps of the offset map (the stretches between copies: markers, aborted
// records, natives), one fetch covering every gap its response reaches.
// Migrate counts and names them per partition (PartitionResult.Unreachable
// and UnreachableNatives, as target offset ranges) and refuses with an
// *UnreachableError (ErrUnreachableNatives, with a hint) unless
// MigrateOptions.Natives chooses: NativesSkip commits the exact position
// and reports them; NativesReread commits the first of them, so that the
// group reads every native and the copies after it a second time
// (PartitionResult.Reread counts those copies; the rewind guard compares
// the group's previous target offset with the exact position, not the
// re-read one). UnreachableFinder does the same count for List's callers
// (groups list, plan, status) and verify.
//
// Cost: the offset map cannot tell a commit marker from a native record
// inside a mirror transaction (both leave a one-offset gap), so every gap
// below the bound is read. That is one fetch per gap not covered by the
// previous response: little when transactions are large, up to a read of
// the partition below the group's position when they are small (a live
// mirror commits every 250 ms). Migrate reads its partitions concurrently
// (as many as it points at); an UnreachableFinder reads each partition
// once per NativeCache, and a cache kept across reports (status in a
// long-running process) reads only the gaps added since: everything below
// the end of the copies is final. Free counting needs the mirror to record
// the native stretches it sees between its own copies in the state (not
// done yet). A transaction written natively on the target and still open
// below the end of the copies hides records that may yet become natives:
// ErrOpenTransaction, rather than a count that could be short.
//
// Limit: in a mirror back after a promotion (a migration in the other
// direction, writing into the old topics), the old records lie before the
// reverse copies and count as natives a group moved with that migration
// never reads, though it read their copies on the other cluster: there
// NativesSkip is the right choice. The state does not mark a migration as
// a mirror back yet.
//
// Moving consumers first, or
// producers only once the mirror has no lag and the source is quiet (what
// status calls the moment), avoids them. The Syncer does not look for
// them: a group that switches by itself after sync is at the exact
// position.
//
// The special cases, each a Kind:
//
//   - End: c is at or after the last copied record (a caught-up group).
//     The translation is the end of the mirrored data, one past the last
//     copied record (0 when nothing was copied); the group then receives
//     what the mirror copies next, and any native records written after
//     the last copy.
//   - Expired: c held no copied record and the group loses records: c
//     lies in a range that expired from the source before the mirror
//     reached it (state.Expired), or before the first copied record (a
//     range never copied: it expired, the mirror started later, or
//     compaction emptied it). The translation is the next copied record;
//     Skipped counts the source offsets in between, for the caller to
//     report.
//   - NotYetMirrored: c is past the mirror's checkpoint; the copies the
//     group needs do not exist yet. Migrate waits (bounded by
//     MigrateOptions.MirrorWait, re-reading the state) and then fails with
//     ErrNotMirrored; the Syncer skips the partition until a later pass.
//
// Offsets only translate from a partition's own mirrored records: a
// target partition may hold copies of one source partition only (the
// mirror maps partitions one to one).
//
// # Two methods, one answer
//
// Translate (pure) uses the partition's offset map and checkpoint from the
// state topic (package offsetmap): a binary search over the map's runs, no
// Kafka I/O. It works whether tracing headers are on or off.
//
// Search reads the target partition itself, for when the map is not to be
// trusted or to verify it: it binary searches the partition for the first
// record whose tracing header (kmigrate.src) names the source partition
// with a source offset >= c. It assumes what the mirror guarantees: the
// mirrored records of one source partition appear in the target partition
// in increasing source offset order (native records, kmigrate's commit
// markers and other sources' copies may be interleaved anywhere, and are
// skipped). The search range is [log start, last stable offset) of the
// target partition when Search starts.
//
// A probe fetches (read_committed, so aborted copies are never seen) from
// the middle of the remaining range; the first record of the response that
// carries a matching header decides which half holds the answer, and the
// range at least halves. When a response holds no matching record, the
// probe reads forward, up to three fetches in all (commit markers and
// short native stretches cost one more fetch, not a new descent). When
// even those hold none (a native stretch longer than three responses), the
// probe has only excluded the offsets it covered: the search continues on
// the lower half and, if the answer is not there, on the upper half past
// them.
//
// Fetches: a search costs at most ceil(log2(n)) + 1 probes for a
// partition of n offsets when every probe finds a matching record in its
// first response; markers and short native stretches add at most two
// fetches per probe; each long native stretch a probe lands in can add a
// second descent. It is never a scan of the mirrored data. Result.Fetches
// reports the count (the tests assert <= 2*ceil(log2(n))+4 on a 10,000
// record partition read one batch per fetch, with native batches
// interleaved). Both methods give the same Kind, Offset and Skipped for
// the same data (the tests check this for every offset of plain,
// compacted, transactional and expired sources with native writes
// interleaved).
//
// Migrate translates with the offset map (no fetch) and then reads the one
// target record each translation points at (one fetch per partition): it
// prints it, and, with tracing headers, checks that it is the copy of the
// expected source offset, so a map that does not match the data (a target
// topic recreated by hand) fails with ErrMismatch instead of moving a group
// to the wrong place. Search is the map-free method, for verification and
// for data whose state topic is gone.
//
// # Moving a group
//
// Migrate commits translated offsets as an administrator would (no member,
// generation -1), which Kafka accepts only for a group without consumers:
// the group must be inactive on the source (its application stopped) and
// have no consumers on the target. Only offsets and their commit metadata
// are written; the group's protocol and members are set by the application
// when it joins. Partitions already at their translation are not committed
// again (re-running is idempotent), and a translation below the group's
// current target offset means the group has run on the target since: it is
// refused (ErrRewind) unless forced. After committing, Migrate reads the
// source group again and fails with ErrMoved if its application restarted
// meanwhile.
//
// Rollback is the inverse: the committed target offset t translates to the
// source offset of the first copy at or after t (the group consumed every
// copy before t). Records written natively on the target after t have no
// source counterpart; Rollback reads [t, end) of the target partition
// (a scan of the tail after the group's position only) and counts them.
//
// The Syncer runs inside a continuous mirror: a group that consumes on the
// source with no consumers on the target has its target offsets kept within
// one sync interval of its source offsets, never moved backwards unless the
// source moved backwards. When the group turns up active on the target and
// inactive on the source it has switched, and the Syncer leaves it alone;
// a group active on both is reported. The Syncer reads the whole state
// topic once per pass that has a group to sync.
//
// Assumptions and limits: the target partition still holds the copies
// (its log start has not passed the translated offset); tracing headers
// that fail to decode stop Search (ErrCorruptHeader) rather than being
// skipped.
//
// # Listing groups
//
// List (list.go) is the read-only report behind `kmigrate groups list`:
// for each selected source group, its state and members on both clusters,
// its committed offsets and lag on the source, which of its topics the
// migration mirrors, each mirrored offset translated with Translate, and a
// verdict. A group is migratable only when no consumer uses it on either
// cluster, the migration has state, at least one committed topic is
// mirrored and every mirrored committed offset is already handled by the
// mirror (no NotYetMirrored). Committed offsets on unmirrored topics are
// reported and left alone; Expired translations are reported per partition
// (kind and skipped count), not refused.
package groups
