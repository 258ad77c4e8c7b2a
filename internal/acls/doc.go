// Package acls moves the ACL bindings that concern a migration from the
// source to the target, and compares both sides.
//
// Which bindings concern a migration: topic bindings whose pattern covers a
// selected topic (literal names, prefixes, the literal "*"), group bindings
// covering a selected group, and every transactional-id and cluster binding
// (which applications own which transactional ids cannot be told from the
// cluster, and cluster bindings are few and global). ALLOW and DENY alike:
// dropping a DENY would widen access.
//
// How they map: a literal topic name becomes its target name
// (config.Topics.TargetName); a prefix p becomes the target name's part
// before "{topic}" plus p, which covers exactly the renamed topics whose
// source names start with p; "*" stays "*". Principals map by the spec's
// rules (config.ACLs.MapPrincipal), exactly or not at all. Nothing else
// changes: hosts, operations and permission types are copied as they are.
//
// A prefixed or wildcard topic binding that on the target also covers
// topics outside the migration would grant (or deny) more there than on
// the source, so it is a conflict: reported with the topics it spills onto,
// and written only when config.ACLs.AllowSpill says so. Bindings the target
// refuses are reported with the broker's reason; nothing is guessed.
//
// Make reads both sides into a Plan (pure Diff does the work, so the rules
// are tested without clusters); Apply creates what the plan lists, and
// deletes the target's extra bindings only when asked; both are idempotent,
// so re-running after a partial failure finishes the job. Verify is Make
// again: a plan with nothing to create or delete means both sides hold the
// same bindings.
//
// Syncer (sync.go) is the mirror's ACL sync: the same plan, applied when
// the mirror starts and every interval after, removing only the bindings
// it created, which it records in the migration's state topic because
// Kafka bindings carry no label.
package acls
