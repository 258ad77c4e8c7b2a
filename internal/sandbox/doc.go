// Package sandbox runs two local Kafka clusters, a source and a target, so
// that someone can try kmigrate without having, or risking, a real cluster.
// `kmigrate sandbox` is often a newcomer's first contact with the tool, so
// it has to start in a second, need nothing installed, and fail with
// messages that say what to do (a port taken, a directory that is not
// ours, another sandbox already running).
//
// The clusters are franz-go's kfake, in process, with three brokers each.
// Their data persists under one directory (Dir/source, Dir/target): a
// migration is something one stops, resumes and inspects, and that only
// works against clusters that keep their topics, offsets and groups across
// restarts. kfake does the persisting, cluster ids included: we offer it a
// fresh random id on every start, and it keeps the one it saved first.
// kfake writes as it goes, so even a killed sandbox restarts with its data.
//
// Seed writes sample data that has the cases a migration must get right: a
// keyed topic with headers, a compacted topic with tombstones, a
// transactional topic whose partitions are several fetches deep with
// aborted transactions all along (their records flushed to the log before
// the abort), and consumer groups part-way through (one pointing at a
// transaction marker). SeedPayments writes the transactional topic alone,
// for the demo. Seed talks to
// its cluster over the Kafka protocol only, so it also works on any other
// cluster a user points it at.
//
// The directory is guarded: Start writes a marker file into it and refuses
// a non-empty directory without one, so a mistyped --dir with --reset
// cannot delete a user's files, and it locks the marker so two sandboxes
// cannot write the same files.
//
// `kmigrate demo` reuses the package in process: ports 0 pick free ports
// and a temporary Dir leaves nothing behind.
//
// Files: sandbox.go (Config, Start, Close), cluster.go (one kfake cluster),
// dir.go and lock_*.go (the data directory), seed.go (sample data),
// errors.go.
package sandbox
