// Package topics decides which source topics a migration copies, what
// their target topics are called and configured with, and creates and
// keeps those target topics in step with the source.
//
// The flow is Inspect (read both clusters, change nothing) -> Plan ->
// Apply (create, extend, configure), then, while mirroring continuously,
// SyncPartitions and SyncConfigs every topics.sync_interval. Inspect's
// plan is also what `kmigrate plan` prints, so every decision carries its
// reason: the include pattern that selected a topic, why another was
// excluded, why a config is not copied, why a target topic cannot be used.
//
// # Selection
//
// Select applies the topics include/exclude patterns (whole-name regular
// expressions, see config.Selection) and then keeps out internal topics:
// Kafka's (__consumer_offsets, __transaction_state, anything starting
// "__"), Schema Registry's _schemas, Confluent's _confluent*, Redpanda's
// _redpanda*, MirrorMaker 2's bookkeeping (mm2-offset-syncs.*,
// mm2-configs.*, mm2-status.*, mm2-offsets.*, *.checkpoints.internal,
// heartbeats) and whatever the cluster flags internal. They hold a cluster's
// or a tool's own state: copied, they mean nothing on another cluster, or
// worse, the tool there reads them as its own. A user who really wants one
// names it literally in topics.include (a pattern that matches that one
// name, like "_schemas"); a broad pattern such as ".*" never selects them.
// kmigrate's own state topics (__kmigrate*) are never selected.
//
// # Configs
//
// FilterConfigs copies only the configs set on the source topic itself
// (DescribeConfigs source DYNAMIC_TOPIC_CONFIG). Defaults and broker-level
// settings describe the source cluster, not the topic: copying them would
// freeze values that the target's operators chose differently, and would
// turn every default into an explicit override that no longer follows the
// target cluster. A portable config inherited from the source brokers is
// reported as dropped, because the target's default may differ (a
// retention, say) and the user should know.
//
// Of the explicit configs, only a documented allow list of portable ones is
// copied (PortableConfigs): those every Kafka since 2.x and compatible
// brokers read with the same meaning, and that describe the data rather
// than the brokers holding it. The rest is dropped with a reason:
// replication throttles and placement name source brokers and racks,
// message.format.version is gone in Kafka 4, tiered storage and
// vendor-prefixed settings may not exist on the target. Two portable
// configs are held back on purpose: message.timestamp.before.max.ms and
// message.timestamp.difference.max.ms would make the target reject the
// older records being mirrored. topics.configs.include adds names to the
// list and topics.configs.exclude removes them (exclude wins). Real Kafka
// rejects unknown config names, so a config the target does not know shows
// up in Inspect's validate-only CreateTopics as a conflict, never halfway
// through Apply.
//
// message.timestamp.type=LogAppendTime is copied, with a warning: the
// target then stamps mirrored records with its own clock.
//
// # Target topics
//
// A target topic that does not exist is created with the source's
// partition count: records keep their partition, which keeps per-key
// order and makes offset translation per partition possible. One that
// exists is used only when it is this migration's own mirror (Resume; the
// owned callback, answered from the migration's state) or, with
// topics.reuse_empty, when it is empty and has the source's partition
// count (Reuse). Empty means no record can be read: every partition's log
// start offset equals its end offset. Records written and deleted before
// do not matter, because the mirror translates offsets from what it copied
// and never assumes target offsets equal source offsets; they only start
// higher. A non-empty topic that is not ours is always a conflict: writing
// into it would mix the migration's records with someone else's, which no
// consumer could tell apart and no rollback could undo.
//
// Partitions can only be added in Kafka, never removed, so a target topic
// behind its source is extended (Resume, SyncPartitions), and one ahead of
// it is a conflict (the source was re-created).
//
// # Concurrency and races
//
// Inspect and Apply are separate steps and the target can change between
// them. A topic that another process created in between makes CreateTopics
// fail with TOPIC_ALREADY_EXISTS; Apply then re-inspects that topic with the
// same rules instead of failing blindly. Adding partitions up to a count the
// topic already has (another process was first) is success. Metadata is
// read past the client's cache (see fresh), since a cache up to five
// seconds old would hide what was just created.
//
// Files: select.go (Select), configs.go (FilterConfigs, the allow list,
// config diffs), inspect.go (Inspect, Plan), apply.go (Apply, waiting for
// leaders), sync.go (SyncPartitions, SyncConfigs).
package topics
