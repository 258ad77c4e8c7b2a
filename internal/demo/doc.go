// Package demo is `kmigrate demo`: a whole live migration on two embedded
// clusters, in one process, in about a minute. A producer app and a
// consumer-group app run against the old cluster; kmigrate mirrors, the
// consumer group is stopped, migrated exactly and restarted on the new
// cluster, the producer moves, both topics are promoted once the old
// cluster is quiet, and verify proves the copy record by record. The apps
// keep ledgers of what they produced and consumed, so the report's
// duplicate and gap counts are the application's view, not kmigrate's.
//
// The old cluster also holds a transactional history (the sandbox's
// payments: every third transaction aborted after its records reached the
// log, about 4 MB per partition), and the mirror runs at its smallest
// memory budget, so it reads that history in many fetches per partition
// with aborted transactions in each. The report proves that exactly the
// committed records were copied, by verify's count and by a read_committed
// consumer of the new cluster (history.go).
//
// It uses only the product's packages (sandbox, migrate, groups, cutover,
// status, verify): the demo is the user journey the README describes, not
// a separate code path.
package demo
