package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
)

// envOf returns a LookupEnv over a fixed map, so tests never read the
// process environment.
func envOf(vars map[string]string) config.LookupEnv {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

var noEnv = envOf(nil)

func parseProps(t *testing.T, text string) config.Properties {
	t.Helper()
	p, err := config.ParseProperties(strings.NewReader(text), "client.properties", envOf(map[string]string{"X": "ex", "EMPTY": ""}))
	if err != nil {
		t.Fatalf("ParseProperties: %v", err)
	}
	return p
}

type kv struct {
	key, value string
	line       int
}

func entries(p config.Properties) []kv {
	var out []kv
	for _, k := range p.Keys() {
		v, l, _ := p.Get(k)
		out = append(out, kv{k, v, l})
	}
	return out
}

func TestParsePropertiesSyntax(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []kv
	}{
		{"equals", "a=b", []kv{{"a", "b", 1}}},
		{"equals with spaces", "a = b", []kv{{"a", "b", 1}}},
		{"colon", "a:b", []kv{{"a", "b", 1}}},
		{"colon with spaces", "a : b", []kv{{"a", "b", 1}}},
		{"space", "a b", []kv{{"a", "b", 1}}},
		{"tab and spaces", "a\t  b", []kv{{"a", "b", 1}}},
		{"whitespace then equals", "a   =b", []kv{{"a", "b", 1}}},
		{"only one separator is eaten", "a==b", []kv{{"a", "=b", 1}}},
		{"colon after whitespace separator", "a =: b", []kv{{"a", ": b", 1}}},
		{"leading whitespace", "   \t a=b", []kv{{"a", "b", 1}}},
		{"value trimmed", "a=  b c  ", []kv{{"a", "b c", 1}}},
		{"key only", "a", []kv{{"a", "", 1}}},
		{"empty value", "a=", []kv{{"a", "", 1}}},
		{"comments and blanks", "# one\n! two\n\n   \n  # three\na=b", []kv{{"a", "b", 6}}},
		{"hash inside value", "a=b#c", []kv{{"a", "b#c", 1}}},
		{"continuation", "a=b\\\n    c\nd=e", []kv{{"a", "bc", 1}, {"d", "e", 3}}},
		{"continuation keeps inner spaces", "a=b \\\n  c", []kv{{"a", "b c", 1}}},
		{"continuation over several lines", "a=1\\\n2\\\n3\nb=4", []kv{{"a", "123", 1}, {"b", "4", 4}}},
		{"continued line is not a comment", "a=b\\\n# c", []kv{{"a", "b# c", 1}}},
		{"comment line does not continue", "# c\\\na=b", []kv{{"a", "b", 2}}},
		{"even backslashes do not continue", "a=b\\\\\nc=d", []kv{{"a", `b\`, 1}, {"c", "d", 2}}},
		{"continuation at end of file", "a=b\\", []kv{{"a", "b", 1}}},
		{"escapes", `a=x\ty\nz\\w\=\:\rq\fr\"`, []kv{{"a", "x\ty\nz\\w=:\rq\fr\"", 1}}},
		{"escaped separator in key", `a\=b\:c\ d=e`, []kv{{"a=b:c d", "e", 1}}},
		{"unicode escapes", `a=\u0041\u00e9\u20AC`, []kv{{"a", "Aé€", 1}}},
		{"surrogate pair", `a=\ud83d\ude00!`, []kv{{"a", "😀!", 1}}},
		{"lone surrogate", `a=\ud83dx`, []kv{{"a", "\uFFFDx", 1}}},
		{"utf-8 passes through", "a=日本\\語", []kv{{"a", "日本語", 1}}},
		{"CRLF", "a=b\r\nc=d\r\n", []kv{{"a", "b", 1}, {"c", "d", 2}}},
		{"CR", "a=b\rc=d", []kv{{"a", "b", 1}, {"c", "d", 2}}},
		{"CRLF continuation", "a=b\\\r\n  c\r\nd=e", []kv{{"a", "bc", 1}, {"d", "e", 3}}},
		{"duplicate keeps last, first position", "a=1\nb=2\na=3", []kv{{"a", "3", 3}, {"b", "2", 2}}},
		{"env", "a=${X}-${EMPTY}-$${X}-x$-$", []kv{{"a", "ex--${X}-x$-$", 1}}},
		{"env is expanded after unescaping", `a=\${X}`, []kv{{"a", "ex", 1}}},
		{"env not in keys", "${X}=1", []kv{{"${X}", "1", 1}}},
		{"empty file", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := entries(parseProps(t, tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`a=\u12`, `client.properties:1: value of a: malformed \uXXXX escape: want four hex digits after \u`},
		{"\n" + `a=\uzzzz`, `client.properties:2: value of a: malformed \uXXXX escape`},
		{`k\u1=v`, `client.properties:1: key: malformed \uXXXX escape`},
		{"a=1\nb=${NOPE}", "client.properties:2: b: environment variable NOPE is not set"},
		{"b=${NOPE", "client.properties:1: b: unterminated ${"},
	}
	for _, tt := range tests {
		_, err := config.ParseProperties(strings.NewReader(tt.in), "client.properties", noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseProperties(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestPropertiesDuplicateWarning(t *testing.T) {
	p := parseProps(t, "client.id=a\n\nclient.id=b\n")
	var c config.Cluster
	warnings, err := p.Apply(&c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"client.properties:3: client.id is set again; the value from line 1 is ignored"}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings = %q, want %q", warnings, want)
	}
	if c.ClientID != "b" {
		t.Errorf("ClientID = %q, want b", c.ClientID)
	}
}

// writeFiles creates files in a new temporary directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const pemCert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestApplyDialects(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"certs/ca.pem":     pemCert,
		"certs/client.pem": "Bag Attributes\n    friendlyName: client\n" + pemCert,
	})
	abs := func(p string) string { return filepath.Join(dir, p) }
	tests := []struct {
		name     string
		props    string
		env      map[string]string
		want     config.Cluster
		warnings []string
	}{
		{
			name: "java SASL_SSL SCRAM with PEM truststore",
			props: `# from a Java client
bootstrap.servers = b1:9093, b2:9093 ,,b3:9093
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
    username="alice" \
    password="${PW}";
ssl.truststore.type=PEM
ssl.truststore.location=certs/ca.pem
ssl.truststore.password=
ssl.endpoint.identification.algorithm=https
client.id=orders-mover
linger.ms=5
acks=all
`,
			env: map[string]string{"PW": "pa ss\"word"},
			want: config.Cluster{
				Bootstrap:        []string{"b1:9093", "b2:9093", "b3:9093"},
				SecurityProtocol: config.SASLSSL,
				SASL:             config.SASL{Mechanism: config.ScramSHA512, Username: "alice", Password: "pa ss\"word"},
				TLS:              config.TLS{CAFile: abs("props/certs/ca.pem")},
				ClientID:         "orders-mover",
			},
			warnings: []string{
				"props/client.properties:13: linger.ms is ignored by kmigrate",
				"props/client.properties:14: acks is ignored by kmigrate",
			},
		},
		{
			name: "java PLAIN infers the mechanism, single quotes",
			props: "security.protocol=sasl_plaintext\n" +
				"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username='key' password='se;cret';\n",
			want: config.Cluster{
				SecurityProtocol: config.SASLPlaintext,
				SASL:             config.SASL{Mechanism: config.Plain, Username: "key", Password: "se;cret"},
			},
		},
		{
			name: "java PEM keystore holds key and chain; sniffed truststore",
			props: "security.protocol=SSL\n" +
				"ssl.truststore.location=" + abs("certs/ca.pem") + "\n" +
				"ssl.keystore.type=PEM\nssl.keystore.location=../certs/client.pem\nssl.keystore.password=x\n" +
				"kmigrate.ssl.server.name=kafka.internal\n",
			want: config.Cluster{
				SecurityProtocol: config.SSL,
				TLS: config.TLS{
					CAFile:     abs("certs/ca.pem"),
					CertFile:   abs("certs/client.pem"),
					ServerName: "kafka.internal",
				},
			},
		},
		{
			name: "java inline PEM",
			props: "security.protocol=SSL\nssl.truststore.type=PEM\nssl.keystore.type=PEM\n" +
				"ssl.truststore.certificates=CA\nssl.keystore.certificate.chain=CHAIN\nssl.keystore.key=KEY\n",
			want: config.Cluster{
				SecurityProtocol: config.SSL,
				TLS:              config.TLS{CAPEM: "CA", CertPEM: "CHAIN", KeyPEM: "KEY"},
			},
		},
		{
			name: "java endpoint identification off",
			props: "security.protocol=SSL\n" +
				"ssl.endpoint.identification.algorithm=\n",
			want: config.Cluster{
				SecurityProtocol: config.SSL,
				TLS:              config.TLS{InsecureSkipVerify: true},
			},
			warnings: []string{"props/client.properties:2: ssl.endpoint.identification.algorithm turns off hostname verification; kmigrate cannot verify certificates without the hostname, so it turns off certificate verification entirely (insecure_skip_verify): to keep verification, remove this line and set kmigrate.ssl.server.name to the name in the broker certificates"},
		},
		{
			name: "endpoint identification off without TLS is ignored",
			props: "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=u\nsasl.password=p\n" +
				"ssl.endpoint.identification.algorithm=\n",
			want: config.Cluster{
				SecurityProtocol: config.SASLPlaintext,
				SASL:             config.SASL{Mechanism: config.Plain, Username: "u", Password: "p"},
			},
			warnings: []string{"props/client.properties:5: ssl.endpoint.identification.algorithm is ignored: security.protocol SASL_PLAINTEXT does not use TLS"},
		},
		{
			name: "librdkafka",
			props: "metadata.broker.list=r1:9092\nsecurity.protocol=sasl_ssl\nsasl.mechanisms=SCRAM-SHA-256\n" +
				"sasl.username=bob\nsasl.password=${PW}\n" +
				"ssl.ca.location=certs/ca.pem\nssl.certificate.location=certs/client.pem\nssl.key.location=certs/client.key\n" +
				"enable.ssl.certificate.verification=false\nssl.endpoint.identification.algorithm=none\n" +
				"statistics.interval.ms=0\ndebug=all\n",
			env: map[string]string{"PW": "hunter2"},
			want: config.Cluster{
				Bootstrap:        []string{"r1:9092"},
				SecurityProtocol: config.SASLSSL,
				SASL:             config.SASL{Mechanism: config.ScramSHA256, Username: "bob", Password: "hunter2"},
				TLS: config.TLS{
					CAFile:             abs("props/certs/ca.pem"),
					CertFile:           abs("props/certs/client.pem"),
					KeyFile:            abs("props/certs/client.key"),
					InsecureSkipVerify: true,
				},
			},
			warnings: []string{
				"props/client.properties:9: enable.ssl.certificate.verification turns off certificate verification (insecure_skip_verify): anyone on the network path can impersonate the brokers",
				"props/client.properties:11: statistics.interval.ms is ignored by kmigrate",
				"props/client.properties:12: debug is ignored by kmigrate",
			},
		},
		{
			name: "librdkafka inline PEM and probe",
			props: "security.protocol=SSL\nssl.ca.location=probe\nssl.ca.pem=CA\nssl.certificate.pem=C\nssl.key.pem=K\n" +
				"enable.ssl.certificate.verification=true\nssl.protocol=TLSv1.2\n",
			want: config.Cluster{
				SecurityProtocol: config.SSL,
				TLS:              config.TLS{CAPEM: "CA", CertPEM: "C", KeyPEM: "K"},
			},
		},
		{
			name: "both dialects agreeing is fine",
			props: "sasl.mechanism=PLAIN\nsasl.mechanisms=plain\nsasl.username=alice\nsasl.password=pw\n" +
				"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule optional username=alice password=pw;\n" +
				"ssl.truststore.type=PEM\nssl.truststore.location=certs/ca.pem\nssl.ca.location=" + abs("props/certs/ca.pem") + "\n",
			want: config.Cluster{
				SASL: config.SASL{Mechanism: config.Plain, Username: "alice", Password: "pw"},
				TLS:  config.TLS{CAFile: abs("props/certs/ca.pem")},
			},
		},
		{
			name: "java config providers",
			props: "config.providers=env, file\n" +
				"config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n" +
				"sasl.username=${env:U}\n",
			env:  map[string]string{"U": "alice"},
			want: config.Cluster{SASL: config.SASL{Username: "alice"}},
			warnings: []string{
				`props/client.properties:1: config.providers declares provider "file", which kmigrate does not have: only ${env:NAME} (and ${NAME}) are expanded`,
			},
		},
		{
			name:  "other services' security keys only warn",
			props: "schema.registry.url=https://sr\nschema.registry.ssl.truststore.password=x\nbasic.auth.user.info=k:s\n",
			want:  config.Cluster{},
			warnings: []string{
				"props/client.properties:1: schema.registry.url is ignored by kmigrate",
				"props/client.properties:2: schema.registry.ssl.truststore.password is ignored by kmigrate",
				"props/client.properties:3: basic.auth.user.info is ignored by kmigrate",
			},
		},
		{
			name:  "empty values are unset",
			props: "bootstrap.servers=\nclient.id=\nsasl.mechanism=\nssl.key.password=\nssl.ca.location=\n",
			want:  config.Cluster{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Paths in the file resolve against its directory.
			p, err := config.ParseProperties(strings.NewReader(tt.props), filepath.Join(dir, "props/client.properties"), envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			var c config.Cluster
			warnings, err := p.Apply(&c)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			tt.want.PropertiesFile = filepath.Join(dir, "props/client.properties")
			if !reflect.DeepEqual(c, tt.want) {
				t.Errorf("cluster:\ngot  %#v\nwant %#v", c, tt.want)
			}
			for i := range tt.warnings {
				tt.warnings[i] = filepath.Join(dir, tt.warnings[i])
			}
			if !slices.Equal(warnings, tt.warnings) {
				t.Errorf("warnings:\ngot  %q\nwant %q", warnings, tt.warnings)
			}
		})
	}
}

func TestApplyOverridesOnlyWhatIsSet(t *testing.T) {
	c := config.Cluster{
		Role:      "source",
		Bootstrap: []string{"old:9092"},
		ClientID:  "keep",
		SASL:      config.SASL{Mechanism: config.Plain, Username: "u", Password: "p"},
	}
	p := parseProps(t, "bootstrap.servers=new:9092\n")
	if _, err := p.Apply(&c); err != nil {
		t.Fatal(err)
	}
	want := config.Cluster{
		Role:           "source",
		Bootstrap:      []string{"new:9092"},
		ClientID:       "keep",
		SASL:           config.SASL{Mechanism: config.Plain, Username: "u", Password: "p"},
		PropertiesFile: "client.properties",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %#v\nwant %#v", c, want)
	}
}

func TestApplyLeavesClusterAloneOnError(t *testing.T) {
	c := config.Cluster{ClientID: "keep"}
	p := parseProps(t, "client.id=new\nssl.engine.factory.class=x.Y\n")
	if _, err := p.Apply(&c); err == nil {
		t.Fatal("want an error")
	}
	if !reflect.DeepEqual(c, config.Cluster{ClientID: "keep"}) {
		t.Errorf("cluster changed on error: %#v", c)
	}
}

func TestPropertiesPrintsNoSecret(t *testing.T) {
	p := parseProps(t, "sasl.username=u\nsasl.password=S3cr3t-Pa55\nssl.keystore.key=S3cr3t-Pa55\n")
	want := "client.properties: sasl.username=u, sasl.password=[redacted], ssl.keystore.key=[redacted]"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if got := sprintf(verb, p); got != want {
			t.Errorf("Sprintf(%q) = %q, want %q", verb, got, want)
		}
	}
	if got := sprintf("%v", []config.Properties{p}); strings.Contains(got, "S3cr3t") {
		t.Errorf("a slice of Properties prints the secret: %s", got)
	}
}
