// Package gateway is a Kafka-protocol gateway in front of a migration's
// source and target clusters, so that producers move to the target
// without a restart, an error or a reordered record (issue 15,
// docs/gateway.md).
//
// Clients bootstrap from the gateway; its Metadata answers name the
// gateway as the only broker, leading every partition of the migration's
// topics, so every connection goes through it. A topic's writes go to the
// source until the topic is promoted, then to the target (under its
// target name). Idempotent producers get their producer id from the
// gateway, which deduplicates their batches by the client's own sequence
// numbers and writes upstream with its own idempotent producer, so the
// client's sequence stream never meets a cluster that does not know it.
// Batches are forwarded as they came, only their producer fields and CRC
// rewritten, one sender per upstream partition, while each connection
// keeps reading pipelined requests and answers them in order (forward.go,
// conn.go).
//
// Promote switches a topic: it holds new writes, asks every other gateway
// of the migration to hold them too, waits for the writes in flight
// everywhere, waits for the mirror's checkpoints (the migration's state on
// the target) to reach the source's end, records the promotion in the
// state, and releases the held writes to the target. The gateways
// coordinate only through the state topic (coord.go): heartbeats, holds
// and their acknowledgements, and a lease that keeps a gateway that cannot
// read the state from writing to the source.
//
// Reads go where the topic is routed; a topic switched through a gateway
// keeps one offset space (offsets.go), so consumers and consumer groups
// reading through the gateway keep their positions across the switch.
// Groups stay on the source's coordinator (groups.go).
//
// Clients authenticate to the gateway itself (TLS, SASL/PLAIN, auth.go);
// the gateway authenticates upstream with the migration's credentials.
//
// Only the APIs in the ApiVersions answer are served; any other request
// closes the connection with a logged reason instead of being forwarded
// to a cluster that may be the wrong one.
package gateway
