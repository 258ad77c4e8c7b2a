// Package config turns what a user gives kmigrate (a migration spec file,
// client properties files in the Java or librdkafka dialect, and command-line
// flags) into one validated Config.
//
// Precedence, lowest first: a cluster's properties file, the spec's inline
// settings for that cluster, then flags. Later sources override earlier ones
// field by field, so a team can keep its existing client.properties and still
// override the bootstrap address for a one-off run.
//
// Two rules shape the parsers. First, a security-relevant setting that
// kmigrate does not understand is an error, never ignored: silently dropping
// ssl.keystore.type=JKS or sasl.kerberos.service.name would connect with
// weaker security than the user asked for, or fail later with a worse
// message. Harmless client tuning keys (linger.ms, acks, ...) only produce a
// warning. Second, secrets travel as Secret, which prints as "[redacted]"
// through every formatter, so they cannot reach a log, error or plan; and no
// message quotes text that might be part of one (a value of a secret key, a
// JAAS option name that may be the tail of a badly quoted password, a
// properties line left over from a broken continuation).
//
// Both file formats expand ${NAME} from the environment in values, never in
// keys, so that passwords can stay out of files. The rules keep ordinary
// values intact: a "$" not followed by "{" is literal (regular expressions
// such as "orders$" need it), "$${" is a literal "${", and ${env:NAME}, the
// spelling of Kafka's EnvVarConfigProvider, is accepted too. An unset
// variable is an error naming the variable and the file and line, never the
// value around it. The lookup is injected (LookupEnv), so tests do not touch
// the process environment.
//
// Every message about a file starts "file:line:", and all the problems
// found are reported together rather than one per run.
//
// Files are named here, not read, except the spec and properties files
// themselves and truststores whose format must be sniffed: reading
// certificates is internal/cluster's job.
//
// Where things are:
//
//	cluster.go          Cluster, SecurityProtocol, Mechanism, Validate
//	secret.go           Secret, which redacts itself
//	env.go              ${NAME} expansion
//	properties.go       .properties syntax: ParseProperties, LoadProperties
//	properties_apply.go mapping both dialects onto a Cluster: Properties.Apply
//	jaas.go             sasl.jaas.config syntax: ParseJAAS
//	spec.go             the migration spec: Spec, ParseSpec, LoadSpec
//	specdecode.go       the YAML walker behind ParseSpec's messages
//	selection.go        anchored include/exclude regular expressions
//	topics.go           Topics: target naming, replication, config lists
//	mirror.go           Mirror: start position, guarantee, sizes, defaults
//	load.go             spec + properties + flags -> Config: Load
//
// docs/configuration.md is the user-facing reference for every spec field
// and properties key.
package config
