// Package lane is kmigrate's real-Kafka test lane (make test-kafka): the
// kmigrate binary against real Apache Kafka clusters started by package
// realkafka, a Kafka 3.9 source with ZooKeeper and Kafka 4.x KRaft
// targets, where kfake stood in before. It holds only tests; they skip
// unless KMIGRATE_REAL_KAFKA=1, so `go test ./...` starts no JVM.
//
// TestMain starts the clusters once for the package, concurrently (a
// cluster costs ~5 s of start-up on 2 cores): source39 (3.9, ZooKeeper),
// source4 and target4 (4.x, KRaft, transactions v2). Tests share them and
// stay apart by naming their topics, groups and migrations with
// kafkatest.TopicName; a test that crashes brokers starts its own cluster.
package lane
