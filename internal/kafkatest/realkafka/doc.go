// Package realkafka starts real Apache Kafka clusters on loopback for
// kmigrate's real-Kafka test lane (make test-kafka), benchmarks and manual
// runs: Kafka 3.9 with ZooKeeper, the mode most teams are leaving, and Kafka
// 4.x as KRaft combined nodes, with one or more brokers each.
//
// Nothing is downloaded here. kafka/fetch (at the repository root) resolves
// each version's runtime classpath from Maven Central into a cache outside
// the repository (KMIGRATE_KAFKA_CACHE, by default ~/.cache/kmigrate/kafka);
// Start fails with that instruction when a version is missing, and
// StartT skips unless KMIGRATE_REAL_KAFKA=1 asks for the real lane.
//
// The clusters are tuned to start fast and run small on a 2-core machine:
// -Xmx512m per JVM, no initial rebalance delay, internal topics with one
// partition and a replication factor of at most the broker count, a small
// cleaner buffer. Readiness is judged the way a client sees it, with kadm:
// every broker in the metadata and both coordinators (group and
// transaction) found, which also creates the internal topics before a test
// needs them.
//
// Every JVM runs in its own process group with a parent-death signal, and
// Stop kills the whole group with SIGKILL: a test binary that dies, panics
// or times out leaves no Java process behind. Kill and Restart let tests
// crash one broker (kill -9) and bring it back on the same ports and data.
package realkafka
