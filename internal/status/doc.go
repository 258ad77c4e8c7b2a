// Package status reports where a migration stands: `kmigrate status` and
// GET /v1/status. It reads only, and reads the migration's state from the
// target, so it works from any machine.
//
// Per topic: mirroring state (promoted, caught-up, mirroring), lag per
// partition in records (source last stable offset minus the checkpoint) and
// in time (the age of the first uncopied record, one read per lagging
// partition), the source write rate and the target native write rate over a
// sample interval (two reads of the end offsets), and where its producers
// are. Producers count as moved when the source has had no write for the
// quiet period (by the source's newest record timestamp, KIP-734, and the
// sampled rate) while the last records of the target partitions include
// records written natively there (no tracing header naming the source)
// newer than the source's last write. The tail read is bounded (the last
// 200 offsets of each target partition).
//
// Per group: its state on both clusters and translated position (package
// groups), and whether it switched: recorded in the state (groups migrate,
// group sync) or seen now (active on the target, inactive on the source).
// For a group that has not switched, the records written natively on the
// target before copies it already consumed (groups.UnreachableFinder: a
// read of the gaps between copies) are counted and named per partition;
// they block it, since groups migrate refuses such a position until the
// user chooses.
//
// Producers first: records producers write on the target while the mirror
// still copies land between copies, and a group that consumed those copies
// on the source cannot be given one position that delivers them. So Next
// calls the safe moment for a topic, no lag and a quiet source while the
// mirror runs ("start the producers of T on the target now"), and a
// warning names topics whose producers write on the target while the
// mirror lags. (A gateway in front of both clusters would remove the
// pause.)
//
// The phase is the furthest step reached: sync, producers, consumers,
// promote (some topics promoted), done (all). Next names the next step and
// Blockers what stands in its way; Unmet gives a topic's unmet promotion
// preconditions, which `kmigrate promote` enforces.
package status
