// Package cluster is the one place that knows how kmigrate talks to a Kafka
// cluster securely: it turns a config.Cluster into franz-go clients (TLS,
// mutual TLS, SASL PLAIN and SCRAM), and it probes a cluster for what a
// migration needs to know before it writes anything (identity, brokers, API
// versions, what the credentials may do).
//
// Connection failures are classified into a few kinds a user can act on
// (unreachable, TLS handshake, authentication) because franz-go, which
// retries connections until its context ends, would otherwise report all of
// them as "context deadline exceeded".
package cluster
