// Package kafkatest is kmigrate's test harness: in-process Kafka clusters
// (singly or as a source/target Pair) and drivers for third-party clients.
// It is imported only by _test.go files; internal/archtest enforces that.
//
// Two ideas shape it.
//
// Product code under test is configured exactly as a user's would be. Every
// Cluster carries a config.Cluster (bootstrap, security protocol, CA file,
// client certificate, SASL credentials) and the harness builds its own
// franz-go clients from it through internal/cluster, the one place that
// knows security. So a test of TLS or SASL exercises the product's real
// code path, and a harness that could connect while the product could not
// is impossible by construction. Certificates are generated per test
// (GenerateTLS) so no key material lives in the repository.
//
// Users run kmigrate to move data that other programs wrote and will read.
// Whether franz-go agrees with itself proves little; the Kcat and Python
// drivers let tests produce with librdkafka and check what kmigrate copied,
// or consume what kmigrate wrote and commit offsets as a user's consumer
// would. They skip when the client is missing, unless
// KMIGRATE_REQUIRE_CLIENTS=1 (CI) turns that into a failure.
//
// Clusters are kfake (github.com/twmb/franz-go/pkg/kfake) by default: fast,
// hermetic and open to fault injection through Cluster.Kfake. A test that
// passes External() may instead run against real clusters named by
// KMIGRATE_TEST_SOURCE and KMIGRATE_TEST_TARGET; such tests name their
// topics with TopicName, and tests that need kfake call RequireKfake.
//
// Known limits of the fakes: kfake applies retention by record timestamp,
// so topics holding old timestamps need retention.ms=-1; librdkafka's SASL
// handshake fails against kfake, so kcat and confluent-kafka-python are
// tested over PLAINTEXT and TLS only.
//
// Network faults that kfake's request-level injection cannot express (a
// dropped connection, a slow link, a response lost after the broker acted
// on the request) come from FaultDialer, which product code under test
// dials through (kgo.Dialer).
//
// Files: cluster.go (New, NewPair, Cluster), options.go, records.go (topic,
// produce, consume and offset helpers), tls.go (certificate generation),
// faults.go (FaultDialer), clients.go (RequireClient, Message, librdkafka
// settings), kcat.go, python.go with the embedded kafkatest_client.py.
package kafkatest
