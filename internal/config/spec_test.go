package config_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/config"
)

// exported copies the exported fields of a Spec, for comparison.
func exported(s *config.Spec) config.Spec {
	return config.Spec{Version: s.Version, Name: s.Name, Source: s.Source, Target: s.Target, Topics: s.Topics, Groups: s.Groups, Mirror: s.Mirror}
}

func ptr[T any](v T) *T { return &v }

func TestParseSpec(t *testing.T) {
	env := envOf(map[string]string{"SRC_PASSWORD": "S3cr3t-Pa55", "HOST": "t1", "TIMEOUT": "1m"})
	tests := []struct {
		name string
		in   string
		want config.Spec
	}{
		{
			name: "full",
			in: `version: 1
name: orders-move
source:
  bootstrap: ["host:9092", "host2:9092"]
  properties_file: source.properties
  security_protocol: sasl_ssl
  sasl: {mechanism: scram-sha-512, username: alice, password: "${SRC_PASSWORD}"}
  tls: {ca_file: ca.pem, cert_file: /abs/c.pem, key_file: k.pem, server_name: kafka.internal, insecure_skip_verify: false}
  client_id: kmigrate
  connect_timeout: 15s
target:
  bootstrap: ${HOST}:9092, t2:9092
  connect_timeout: ${TIMEOUT}
topics:
  include: ["orders\\..*", "payments$"]
  exclude: ["orders\\.tmp.*"]
groups:
  include: [".*"]
  exclude: []
`,
			want: config.Spec{
				Version: 1,
				Name:    "orders-move",
				Source: &config.ClusterSpec{
					Bootstrap:        []string{"host:9092", "host2:9092"},
					PropertiesFile:   "specs/source.properties",
					SecurityProtocol: config.SASLSSL,
					SASL:             &config.SASLSpec{Mechanism: config.ScramSHA512, Username: "alice", Password: "S3cr3t-Pa55"},
					TLS: &config.TLSSpec{
						CAFile: "specs/ca.pem", CertFile: "/abs/c.pem", KeyFile: "specs/k.pem",
						ServerName: "kafka.internal", InsecureSkipVerify: ptr(false),
					},
					ClientID:       "kmigrate",
					ConnectTimeout: ptr(15 * time.Second),
				},
				Target: &config.ClusterSpec{
					Bootstrap:      []string{"t1:9092", "t2:9092"},
					ConnectTimeout: ptr(time.Minute),
				},
				Topics: &config.TopicsSpec{Include: []string{`orders\..*`, "payments$"}, Exclude: []string{`orders\.tmp.*`}},
				Groups: &config.GroupsSpec{Include: []string{".*"}, Exclude: []string{}},
			},
		},
		{
			name: "empty",
			in:   "",
			want: config.Spec{Version: 1},
		},
		{
			name: "comments only",
			in:   "# nothing yet\n",
			want: config.Spec{Version: 1},
		},
		{
			name: "null sections and fields",
			in:   "source:\ntarget: ~\ntopics:\n  include:\nname:\n",
			want: config.Spec{Version: 1, Topics: &config.TopicsSpec{}},
		},
		{
			name: "dollar escapes",
			in:   "name: a\nsource:\n  client_id: \"$${HOST}$\"\n",
			want: config.Spec{Version: 1, Name: "a", Source: &config.ClusterSpec{ClientID: "${HOST}$"}},
		},
		{
			name: "single include string",
			in:   "topics:\n  include: orders,payments\n",
			want: config.Spec{Version: 1, Topics: &config.TopicsSpec{Include: []string{"orders,payments"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := config.ParseSpec([]byte(tt.in), "specs/migration.yaml", env)
			if err != nil {
				t.Fatalf("ParseSpec: %v", err)
			}
			if got := exported(s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

func TestParseSpecAliasesAndMerge(t *testing.T) {
	in := `source:
  bootstrap: [a:1]
  security_protocol: SSL
  tls: &tls {ca_file: ca.pem, server_name: s}
  sasl: &sasl {username: u}
target:
  <<: {client_id: merged, security_protocol: PLAINTEXT}
  security_protocol: SASL_SSL
  bootstrap: &boot b:1
  tls: *tls
  sasl:
    <<: [*sasl, {mechanism: PLAIN, username: ignored}]
    password: p
`
	s, err := config.ParseSpec([]byte(in), "m.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := &config.ClusterSpec{
		Bootstrap:        []string{"b:1"},
		SecurityProtocol: config.SASLSSL,
		TLS:              &config.TLSSpec{CAFile: "ca.pem", ServerName: "s"},
		SASL:             &config.SASLSpec{Mechanism: config.Plain, Username: "ignored", Password: "p"},
		ClientID:         "merged",
	}
	if !reflect.DeepEqual(s.Target, want) {
		t.Errorf("target:\ngot  %s\nwant %s", dump(s.Target), dump(want))
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the whole message
	}{
		{
			name: "unknown field with suggestion",
			in:   "version: 1\nname: x\n\nsource:\n  # the brokers\n\n  bootstap: [a:1]\n",
			want: `migration.yaml:7: unknown field "bootstap" in source; did you mean "bootstrap"? known fields: bootstrap, properties_file, security_protocol, sasl, tls, client_id, connect_timeout`,
		},
		{
			name: "unknown nested field",
			in:   "target:\n  tls:\n    ca: x\n",
			want: `migration.yaml:3: unknown field "ca" in target.tls; known fields: ca_file, cert_file, key_file, server_name, insecure_skip_verify`,
		},
		{
			name: "unknown top-level field with suggestion",
			in:   "topic:\n  include: [a]\n",
			want: `migration.yaml:1: unknown field "topic" at the top level; did you mean "topics"? known fields: version, name, source, target, topics, groups, mirror, acls`,
		},
		{
			name: "camelCase gets the snake_case suggestion",
			in:   "source:\n  clientId: x\n",
			want: `migration.yaml:2: unknown field "clientId" in source; did you mean "client_id"? known fields: bootstrap, properties_file, security_protocol, sasl, tls, client_id, connect_timeout`,
		},
		{
			name: "list where a string is expected",
			in:   "source:\n  client_id: [a, b]\n",
			want: "migration.yaml:2: source.client_id: want a string, got a list",
		},
		{
			name: "mapping where a list is expected",
			in:   "source:\n  bootstrap:\n    a: 1\n",
			want: `migration.yaml:3: source.bootstrap: want a list of strings or one ","-separated string, got a mapping`,
		},
		{
			name: "scalar where a section is expected",
			in:   "source: localhost:9092\n",
			want: "migration.yaml:1: source: want a mapping of fields (bootstrap, properties_file, security_protocol, sasl, tls, client_id, connect_timeout), got a single value",
		},
		{
			name: "list item that is not a string",
			in:   "topics:\n  include:\n    - a\n    - {b: c}\n",
			want: "migration.yaml:4: topics.include[1]: want a string, got a mapping",
		},
		{
			name: "duration without unit",
			in:   "target:\n  connect_timeout: 10\n",
			want: `migration.yaml:2: target.connect_timeout: want a duration like 10s or 1m30s, not "10"`,
		},
		{
			name: "negative duration",
			in:   "target:\n  connect_timeout: -1s\n",
			want: "migration.yaml:2: target.connect_timeout: -1s is not positive: use a duration such as 30s, or leave it out for the default (10s)",
		},
		{
			name: "zero duration",
			in:   "source:\n  connect_timeout: 0s\n",
			want: "migration.yaml:2: source.connect_timeout: 0s is not positive: use a duration such as 30s, or leave it out for the default (10s)",
		},
		{
			name: "bad bool",
			in:   "target:\n  tls:\n    insecure_skip_verify: yes\n",
			want: `migration.yaml:3: target.tls.insecure_skip_verify: want true or false, not "yes"`,
		},
		{
			name: "bad version",
			in:   "version: 2\n",
			want: "migration.yaml:1: version: version 2 is not supported: this kmigrate reads version 1",
		},
		{
			name: "version not a number",
			in:   "version: one\n",
			want: `migration.yaml:1: version: want an integer, not "one"`,
		},
		{
			name: "bad name",
			in:   "name: orders move\n",
			want: `migration.yaml:1: name: "orders move" is not a valid name: use 1 to 200 letters, digits, '.', '_' or '-'`,
		},
		{
			name: "invalid regex",
			in:   "topics:\n  include:\n    - ok\n    - orders[\n",
			want: "migration.yaml:4: topics.include[1]: invalid regular expression \"orders[\": error parsing regexp: missing closing ]: `[`",
		},
		{
			name: "invalid exclude regex",
			in:   "groups:\n  exclude: ['(a']\n",
			want: "migration.yaml:2: groups.exclude[0]: invalid regular expression \"(a\": error parsing regexp: missing closing ): `(a`",
		},
		{
			name: "unset env var",
			in:   "source:\n  sasl:\n    password: \"${SRC_PASSWORD}\"\n",
			want: "migration.yaml:3: source.sasl.password: environment variable SRC_PASSWORD is not set",
		},
		{
			name: "unknown security protocol",
			in:   "source:\n  security_protocol: TLS\n",
			want: `migration.yaml:2: source.security_protocol: unknown security.protocol "TLS": use one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL`,
		},
		{
			name: "unsupported mechanism",
			in:   "source:\n  sasl:\n    mechanism: GSSAPI\n",
			want: `migration.yaml:3: source.sasl.mechanism: unsupported SASL mechanism "GSSAPI": kmigrate supports PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`,
		},
		{
			name: "field given twice",
			in:   "name: a\nname: b\n",
			want: `migration.yaml:2: the spec: field "name" is given twice (first on line 1)`,
		},
		{
			name: "two documents",
			in:   "name: a\n---\nname: b\n",
			want: `migration.yaml:2: a second YAML document: a spec is one document; remove the "---"`,
		},
		{
			name: "YAML syntax",
			in:   "source:\n  bootstrap: [a\n",
			want: "migration.yaml: invalid YAML near line 1: did not find expected ',' or ']'",
		},
		{
			name: "top level list",
			in:   "- a\n",
			want: "migration.yaml:1: the spec: want a mapping of fields (version, name, source, target, topics, groups, mirror, acls), got a list",
		},
		{
			name: "several errors at once",
			in:   "nme: a\nsource:\n  connect_timeout: x\n",
			want: `migration.yaml:1: unknown field "nme" at the top level; did you mean "name"? known fields: version, name, source, target, topics, groups, mirror, acls` + "\n" +
				`migration.yaml:3: source.connect_timeout: want a duration like 10s or 1m30s, not "x"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(tt.in), "migration.yaml", noEnv)
			if err == nil {
				t.Fatal("ParseSpec succeeded, want an error")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\ngot  %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestParseSpecAliasBomb feeds merge keys that would expand to 10^9
// mappings; the decoder must give up quickly.
func TestParseSpecAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("source:\n  tls:\n    ca_file: &m0 x\n")
	b.WriteString("target:\n  sasl: &n0 {username: u}\n")
	prev := "n0"
	var defs strings.Builder
	for i := 1; i <= 9; i++ {
		name := fmt.Sprintf("n%d", i)
		fmt.Fprintf(&defs, "  - &%s {<<: [%s]}\n", name, strings.TrimSuffix(strings.Repeat("*"+prev+", ", 10), ", "))
		prev = name
	}
	b.WriteString("topics:\n  include:\n")
	b.WriteString(defs.String())
	b.WriteString("groups:\n  include: [a]\n  <<: [*n9, *n9]\n")
	// Without the node limit this expands to 10^9 nodes and never ends
	// (the suite's -timeout fails it); no wall-clock bound is asserted.
	_, err := config.ParseSpec([]byte(b.String()), "bomb.yaml", noEnv)
	if err == nil {
		t.Fatal("want an error")
	}
	if want := "bomb.yaml: the spec has more than 100000 nodes: are aliases or merge keys expanding?"; err.Error() != want {
		t.Errorf("error = %.500s\nwant %s", err, want)
	}
}
