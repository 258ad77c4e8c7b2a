package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/config"
)

func TestLoadPrecedence(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"migration.yaml": `name: orders-move
source:
  properties_file: props/source.properties
  bootstrap: spec-src:9092
  sasl:
    username: from-spec
    password: ${SRC_PASSWORD}
  connect_timeout: 20s
target:
  properties_file: props/target.properties
  tls:
    insecure_skip_verify: false
topics:
  include: ["orders\\..*"]
  exclude: ["orders\\.tmp.*"]
`,
		"props/source.properties": `bootstrap.servers=props-src:9092
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="from-props" password="old";
ssl.truststore.type=PEM
ssl.truststore.location=ca.pem
client.id=src
acks=all
`,
		"props/target.properties": `bootstrap.servers=tgt1:9092,tgt2:9092
security.protocol=SSL
ssl.ca.location=/etc/ca.pem
enable.ssl.certificate.verification=false
`,
		"props/flag.properties": "bootstrap.servers=flag-props:9092\n",
		"props/ca.pem":          pemCert,
	})
	spec := filepath.Join(dir, "migration.yaml")
	env := envOf(map[string]string{"SRC_PASSWORD": "S3cr3t-Pa55"})

	t.Run("spec over properties", func(t *testing.T) {
		cfg, warnings, err := config.Load(config.Overrides{SpecFile: spec}, env)
		if err != nil {
			t.Fatal(err)
		}
		topics, err := config.NewSelection([]string{`orders\..*`}, []string{`orders\.tmp.*`})
		if err != nil {
			t.Fatal(err)
		}
		all, _ := config.NewSelection(nil, nil)
		want := &config.Config{
			Name: "orders-move",
			Source: config.Cluster{
				Role:             "source",
				Bootstrap:        []string{"spec-src:9092"},
				SecurityProtocol: config.SASLSSL,
				SASL:             config.SASL{Mechanism: config.ScramSHA256, Username: "from-spec", Password: "S3cr3t-Pa55"},
				TLS:              config.TLS{CAFile: filepath.Join(dir, "props/ca.pem")},
				ClientID:         "src",
				ConnectTimeout:   20 * time.Second,
				PropertiesFile:   filepath.Join(dir, "props/source.properties"),
			},
			Target: config.Cluster{
				Role:             "target",
				Bootstrap:        []string{"tgt1:9092", "tgt2:9092"},
				SecurityProtocol: config.SSL,
				TLS:              config.TLS{CAFile: "/etc/ca.pem", InsecureSkipVerify: false},
				PropertiesFile:   filepath.Join(dir, "props/target.properties"),
			},
			Topics:   config.Topics{Selection: topics, SyncInterval: config.DefaultSyncInterval},
			Groups:   defaultGroups(all),
			Mirror:   config.DefaultMirror(),
			SpecFile: spec,
		}
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("config:\ngot  %s\nwant %s", dump(cfg), dump(want))
		}
		wantWarnings := []string{
			filepath.Join(dir, "props/source.properties") + ":8: acks is ignored by kmigrate",
			filepath.Join(dir, "props/target.properties") + ":4: enable.ssl.certificate.verification turns off certificate verification (insecure_skip_verify): anyone on the network path can impersonate the brokers",
		}
		if !slices.Equal(warnings, wantWarnings) {
			t.Errorf("warnings:\ngot  %q\nwant %q", warnings, wantWarnings)
		}
	})

	t.Run("flags over spec", func(t *testing.T) {
		cfg, _, err := config.Load(config.Overrides{
			SpecFile:     spec,
			Source:       "flag-src:9092, flag-src2:9092",
			TargetConfig: filepath.Join(dir, "props/flag.properties"),
			Topics:       "payments",
			Groups:       "g.*",
		}, env)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Source.Bootstrap, []string{"flag-src:9092", "flag-src2:9092"}; !slices.Equal(got, want) {
			t.Errorf("source bootstrap = %q, want %q", got, want)
		}
		// The flag's properties file replaced the spec's, so the target is
		// plain text now.
		wantTarget := config.Cluster{
			Role:           "target",
			Bootstrap:      []string{"flag-props:9092"},
			TLS:            config.TLS{InsecureSkipVerify: false},
			PropertiesFile: filepath.Join(dir, "props/flag.properties"),
		}
		if !reflect.DeepEqual(cfg.Target, wantTarget) {
			t.Errorf("target:\ngot  %#v\nwant %#v", cfg.Target, wantTarget)
		}
		if got, want := cfg.Topics.String(), `include payments; exclude orders\.tmp.*`; got != want {
			t.Errorf("topics = %q, want %q", got, want)
		}
		if got, want := cfg.Groups.String(), "include g.*"; got != want {
			t.Errorf("groups = %q, want %q", got, want)
		}
	})
}

func TestLoadFlagsOnly(t *testing.T) {
	cfg, warnings, err := config.Load(config.Overrides{Source: "a:9092", Target: "b:9092,c:9092"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := config.NewSelection(nil, nil)
	want := &config.Config{
		Source: config.Cluster{Role: "source", Bootstrap: []string{"a:9092"}},
		Target: config.Cluster{Role: "target", Bootstrap: []string{"b:9092", "c:9092"}},
		Topics: config.Topics{Selection: all, SyncInterval: config.DefaultSyncInterval},
		Groups: defaultGroups(all),
		Mirror: config.DefaultMirror(),
	}
	if !reflect.DeepEqual(cfg, want) || warnings != nil {
		t.Errorf("got %s, %q\nwant %s", dump(cfg), warnings, dump(want))
	}
}

func TestLoadNothingGiven(t *testing.T) {
	_, _, err := config.Load(config.Overrides{Topics: "x"}, noEnv)
	if !errors.Is(err, config.ErrNoMigration) {
		t.Fatalf("error = %v, want ErrNoMigration", err)
	}
	want := "no migration given: pass -f migration.yaml with source and target sections, or --source HOST:PORT and --target HOST:PORT (with --source-config and --target-config naming client properties files if the clusters need TLS or SASL)"
	if err.Error() != want {
		t.Errorf("error:\ngot  %s\nwant %s", err, want)
	}
}

// badCase is an input that Load must refuse with a specific message.
type badCase struct {
	name  string
	files map[string]string // written to a temporary directory
	o     config.Overrides  // paths relative to that directory
	want  []string          // substrings of the error
}

// The password every bad case can see; no error may contain it.
const secret = "S3cr3t-Pa55"

var secretEnv = envOf(map[string]string{"PW": secret})

// specWith is a spec whose source uses the properties file p.properties
// and whose target is plain.
func specWith(source string) map[string]string {
	return map[string]string{"m.yaml": "source:\n" + source + "target:\n  bootstrap: [t:9092]\n"}
}

func propsCase(name, props string, want ...string) badCase {
	files := specWith("  properties_file: p.properties\n")
	files["p.properties"] = props
	return badCase{name: name, files: files, o: config.Overrides{SpecFile: "m.yaml"}, want: want}
}

const saslSSL = "bootstrap.servers=s:9092\nsecurity.protocol=SASL_SSL\n"

var badCases = []badCase{
	{name: "missing bootstrap", files: specWith("  client_id: x\n"), o: config.Overrides{SpecFile: "m.yaml"},
		want: []string{"source: no bootstrap servers: set --source HOST:PORT, bootstrap.servers in the properties file, or source.bootstrap in the spec"}},
	{name: "missing target", o: config.Overrides{Source: "a:1"},
		want: []string{"target: no bootstrap servers: set --target HOST:PORT"}},
	{name: "bad port", o: config.Overrides{Source: "a:99999", Target: "b:x"},
		want: []string{`source: bootstrap server "a:99999": port "99999" is out of range 1-65535`, `target: bootstrap server "b:x": port "x" is not a number`}},
	{name: "no port", o: config.Overrides{Source: "a", Target: "PLAINTEXT://b:1"},
		want: []string{`source: bootstrap server "a": want HOST:PORT`, `target: bootstrap server "PLAINTEXT://b:1": want HOST:PORT without a scheme`}},
	propsCase("unknown security.protocol", "bootstrap.servers=s:9092\nsecurity.protocol=TLS\n",
		`p.properties:2: security.protocol: unknown security.protocol "TLS": use one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL`),
	propsCase("SASL without credentials", saslSSL+"sasl.mechanism=PLAIN\n",
		"source: security.protocol SASL_SSL needs SASL credentials: set sasl.username and sasl.password (or sasl.jaas.config)"),
	propsCase("SASL without mechanism", saslSSL+"sasl.username=u\nsasl.password=${PW}\n",
		"source: security.protocol SASL_SSL needs a SASL mechanism: set sasl.mechanism to one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
	propsCase("SCRAM module without mechanism", saslSSL+
		"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=u password=\"${PW}\";\n",
		"source: security.protocol SASL_SSL needs a SASL mechanism"),
	propsCase("GSSAPI", saslSSL+"sasl.mechanism=GSSAPI\nsasl.kerberos.service.name=kafka\n",
		`p.properties:3: sasl.mechanism: unsupported SASL mechanism "GSSAPI": kmigrate supports PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`,
		"p.properties:4: sasl.kerberos.service.name: kmigrate cannot honour this security setting"),
	propsCase("Krb5LoginModule", saslSSL+
		"sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab=\"/k\" principal=\"p@R\";\n",
		"p.properties:3: sasl.jaas.config: login module com.sun.security.auth.module.Krb5LoginModule is not supported: kmigrate supports org.apache.kafka.common.security.plain.PlainLoginModule (PLAIN) and org.apache.kafka.common.security.scram.ScramLoginModule (SCRAM-SHA-256, SCRAM-SHA-512)"),
	propsCase("OAuthBearer module", saslSSL+"sasl.mechanism=OAUTHBEARER\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientSecret=\"${PW}\";\n",
		`unsupported SASL mechanism "OAUTHBEARER"`,
		"sasl.jaas.config: login module org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule is not supported"),
	propsCase("jaas module/mechanism mismatch", saslSSL+"sasl.mechanism=SCRAM-SHA-512\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=\"${PW}\";\n",
		"p.properties:4: sasl.jaas.config: login module org.apache.kafka.common.security.plain.PlainLoginModule does not match sasl.mechanism SCRAM-SHA-512: use org.apache.kafka.common.security.scram.ScramLoginModule"),
	propsCase("scram module with PLAIN", saslSSL+"sasl.mechanism=PLAIN\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=u password=\"${PW}\";\n",
		"does not match sasl.mechanism PLAIN: use org.apache.kafka.common.security.plain.PlainLoginModule"),
	propsCase("jaas syntax", saslSSL+"sasl.mechanism=PLAIN\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=\"${PW}\n",
		"p.properties:4: sasl.jaas.config: a quoted value is not closed"),
	propsCase("jaas token auth", saslSSL+"sasl.mechanism=SCRAM-SHA-256\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=u password=\"${PW}\" tokenauth=true;\n",
		"login module option tokenauth: delegation tokens are not supported"),
	propsCase("jaas extension option", saslSSL+"sasl.mechanism=PLAIN\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=\"${PW}\" serviceName=kafka;\n",
		`login module option "serviceName" is not supported by kmigrate`),
	propsCase("conflicting usernames", saslSSL+"sasl.mechanism=PLAIN\nsasl.username=alice\nsasl.password=${PW}\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=\"${PW}\";\n",
		`p.properties:6: sasl.jaas.config and sasl.username (line 4) set different SASL usernames ("alice" and "bob"): keep one`),
	propsCase("conflicting passwords", saslSSL+"sasl.mechanism=PLAIN\nsasl.password=${PW}\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=\"other\";\n",
		"p.properties:5: sasl.jaas.config and sasl.password (line 4) set different SASL passwords: keep one"),
	propsCase("conflicting mechanisms", saslSSL+"sasl.mechanism=PLAIN\nsasl.mechanisms=SCRAM-SHA-256\n",
		`p.properties:4: sasl.mechanisms and sasl.mechanism (line 3) set different SASL mechanisms ("PLAIN" and "SCRAM-SHA-256"): keep one`),
	propsCase("conflicting CA files", "security.protocol=SSL\nssl.ca.location=a.pem\nssl.truststore.type=PEM\nssl.truststore.location=b.pem\n",
		`p.properties:4: ssl.truststore.location and ssl.ca.location (line 2) set different CA files ("a.pem" and "b.pem"): keep one`),
	propsCase("file and inline CA", "security.protocol=SSL\nssl.ca.location=a.pem\nssl.truststore.certificates=X\n",
		"p.properties:3: ssl.truststore.certificates and ssl.ca.location (line 2) both give CA certificates: use a file or inline PEM, not both"),
	{name: "JKS truststore by magic",
		files: map[string]string{
			"m.yaml":         "source:\n  properties_file: p.properties\ntarget:\n  bootstrap: t:1\n",
			"p.properties":   "bootstrap.servers=s:1\nsecurity.protocol=SSL\nssl.truststore.location=truststore.jks\nssl.truststore.password=${PW}\n",
			"truststore.jks": "\xfe\xed\xfe\xed\x00\x00\x00\x02",
		},
		o: config.Overrides{SpecFile: "m.yaml"},
		want: []string{"p.properties:3: ssl.truststore.location: \"truststore.jks\" is a JKS truststore; kmigrate reads PEM only: convert it with " +
			"`keytool -importkeystore -srckeystore truststore.jks -srcstoretype JKS -destkeystore truststore.p12 -deststoretype PKCS12` and " +
			"`openssl pkcs12 -in truststore.p12 -nokeys -out ca.pem`, then set ssl.truststore.type=PEM and point ssl.truststore.location (or ssl.ca.location) at ca.pem"}},
	{name: "PKCS12 keystore by magic",
		files: map[string]string{
			"m.yaml":       "source:\n  properties_file: p.properties\ntarget:\n  bootstrap: t:1\n",
			"p.properties": "bootstrap.servers=s:1\nsecurity.protocol=SSL\nssl.keystore.location=client.p12\nssl.keystore.password=${PW}\n",
			"client.p12":   "\x30\x82\x0a\x01",
		},
		o:    config.Overrides{SpecFile: "m.yaml"},
		want: []string{"p.properties:3: ssl.keystore.location: \"client.p12\" is a PKCS12 keystore; kmigrate reads PEM only: convert it with `openssl pkcs12 -in client.p12 -nodes -out client.pem`"}},
	propsCase("JKS truststore by type", "security.protocol=SSL\nssl.truststore.type=JKS\nssl.truststore.location=/nonexistent/t.jks\n",
		`"/nonexistent/t.jks" is a JKS truststore`),
	propsCase("PKCS12 keystore by type", "security.protocol=SSL\nssl.keystore.type=pkcs12\nssl.keystore.location=k.p12\n",
		"`openssl pkcs12 -in k.p12 -nodes -out client.pem` (client.pem then holds the unencrypted key: keep it private), then set ssl.keystore.type=PEM and point ssl.keystore.location at client.pem"),
	propsCase("unreadable truststore", "security.protocol=SSL\nssl.truststore.location=missing.jks\n",
		"p.properties:2: ssl.truststore.location: cannot check the store's format (ssl.truststore.type is not set, and Java's default is JKS): stat missing.jks: no such file or directory"),
	{name: "store of unknown format",
		files: map[string]string{
			"m.yaml":       "source:\n  properties_file: p.properties\ntarget:\n  bootstrap: t:1\n",
			"p.properties": "bootstrap.servers=s:1\nsecurity.protocol=SSL\nssl.truststore.location=ca.der\n",
			"ca.der":       "hello",
		},
		o:    config.Overrides{SpecFile: "m.yaml"},
		want: []string{`p.properties:3: ssl.truststore.location: "ca.der" is neither PEM nor a JKS or PKCS12 store: kmigrate reads PEM files`}},
	propsCase("unsupported store type", "security.protocol=SSL\nssl.truststore.type=BCFKS\nssl.truststore.location=t\n",
		`p.properties:2: ssl.truststore.type: store type "BCFKS" is not supported`),
	propsCase("encrypted key", "security.protocol=SSL\nssl.key.location=k.pem\nssl.certificate.location=c.pem\nssl.key.password=${PW}\n",
		"p.properties:4: ssl.key.password: encrypted private keys are not supported: decrypt the key with `openssl pkey -in KEY -out key.pem`"),
	propsCase("unknown security key", "bootstrap.servers=s:1\nssl.engine.factory.class=com.example.Engine\n",
		"p.properties:2: ssl.engine.factory.class: kmigrate cannot honour this security setting, and refuses to connect with weaker security than the file asks for"),
	propsCase("cipher suites", "bootstrap.servers=s:1\nssl.cipher.suites=TLS_AES_128_GCM_SHA256\nsecurity.providers=x\n",
		"p.properties:2: ssl.cipher.suites: kmigrate cannot honour", "p.properties:3: security.providers: kmigrate cannot honour"),
	propsCase("callback handler", "bootstrap.servers=s:1\nsasl.login.callback.handler.class=x\n",
		"p.properties:2: sasl.login.callback.handler.class: kmigrate cannot honour"),
	propsCase("old TLS", "bootstrap.servers=s:1\nssl.protocol=TLSv1.1\n",
		`p.properties:2: ssl.protocol: "TLSv1.1" is not supported: kmigrate speaks TLS 1.2 and 1.3`),
	propsCase("unknown kmigrate key", "bootstrap.servers=s:1\nkmigrate.server.name=x\n",
		"p.properties:2: kmigrate.server.name: unknown kmigrate key: the only one is kmigrate.ssl.server.name"),
	propsCase("bad verification flag", "bootstrap.servers=s:1\nenable.ssl.certificate.verification=maybe\nssl.endpoint.identification.algorithm=dns\n",
		`p.properties:2: enable.ssl.certificate.verification: want true or false, not "maybe"`,
		`p.properties:3: ssl.endpoint.identification.algorithm: unknown value "dns": want https (verify the broker hostname) or none`),
	propsCase("unset env var in properties", "bootstrap.servers=s:1\nsasl.password=${NOPE}\n",
		"p.properties:2: sasl.password: environment variable NOPE is not set"),
	propsCase("TLS settings on plaintext", "bootstrap.servers=s:1\nssl.ca.location=ca.pem\n",
		"source: TLS settings are given but security.protocol is PLAINTEXT: use SSL or SASL_SSL, or remove the TLS settings"),
	propsCase("SASL settings on SSL", "bootstrap.servers=s:1\nsecurity.protocol=SSL\nsasl.username=u\nsasl.password=${PW}\n",
		"source: SASL settings are given but security.protocol is SSL"),
	propsCase("empty bootstrap list", "bootstrap.servers= , ,\n", "p.properties:1: bootstrap.servers: lists no servers"),
	{name: "missing properties file", files: specWith("  properties_file: nope.properties\n"), o: config.Overrides{SpecFile: "m.yaml"},
		want: []string{"m.yaml:2: source.properties_file: read properties file: open ", "nope.properties: no such file or directory"}},
	{name: "missing properties file from flag", o: config.Overrides{Source: "a:1", Target: "b:1", TargetConfig: "nope.properties"},
		want: []string{"--target-config: read properties file: open nope.properties: no such file or directory"}},
	{name: "missing spec", o: config.Overrides{SpecFile: "nope.yaml"}, want: []string{"read spec: open nope.yaml: no such file or directory"}},
	{name: "unknown spec field", files: specWith("  bootstrap: [s:1]\n  sasl:\n    user: u\n"), o: config.Overrides{SpecFile: "m.yaml"},
		want: []string{`m.yaml:4: unknown field "user" in source.sasl; known fields: mechanism, username, password`}},
	{name: "invalid spec regex", files: map[string]string{"m.yaml": "topics:\n  exclude: ['orders[']\n"}, o: config.Overrides{SpecFile: "m.yaml"},
		want: []string{`m.yaml:2: topics.exclude[0]: invalid regular expression "orders["`}},
	{name: "invalid flag regex", o: config.Overrides{Source: "a:1", Target: "b:1", Groups: "g("},
		want: []string{`--groups: include: invalid regular expression "g("`}},
	{name: "unset env var in spec", files: specWith("  bootstrap: [s:1]\n  sasl:\n    password: x${NOPE}x\n"), o: config.Overrides{SpecFile: "m.yaml"},
		want: []string{"m.yaml:4: source.sasl.password: environment variable NOPE is not set"}},
	{name: "spec SASL needs protocol", files: specWith("  bootstrap: [s:1]\n  sasl: {mechanism: PLAIN, username: u, password: '${PW}'}\n"), o: config.Overrides{SpecFile: "m.yaml"},
		want: []string{"source: SASL settings are given but security.protocol is PLAINTEXT"}},
	{name: "errors from both clusters", o: config.Overrides{Source: "a", Target: "b"},
		want: []string{`source: bootstrap server "a"`, `target: bootstrap server "b"`}},
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range badCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(writeFiles(t, tt.files))
			cfg, _, err := config.Load(tt.o, secretEnv)
			if err == nil {
				t.Fatalf("Load succeeded: %s", dump(cfg))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%s\nwant it to contain:\n%s", err, w)
				}
			}
		})
	}
}

// TestLoadErrorsHideSecrets runs every bad case with the secret in the
// environment, in the properties file and in the spec, and checks that no
// error or warning repeats it.
func TestLoadErrorsHideSecrets(t *testing.T) {
	for _, tt := range badCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(writeFiles(t, tt.files))
			_, warnings, err := config.Load(tt.o, secretEnv)
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the secret:\n%s", err)
			}
			for _, w := range warnings {
				if strings.Contains(w, secret) {
					t.Errorf("warning leaks the secret: %s", w)
				}
			}
		})
	}
}

// dump prints a value for a failure message; Secrets stay redacted.
func dump(v any) string { return fmt.Sprintf("%+v", v) }

func TestLoadSpecResolvesPathsAgainstItsDirectory(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"sub/m.yaml": "source:\n  bootstrap: a:1\n  security_protocol: SSL\n  tls: {ca_file: ca.pem, cert_file: c.pem, key_file: ../k.pem}\ntarget:\n  bootstrap: b:1\n",
	})
	t.Chdir(dir)
	cfg, _, err := config.Load(config.Overrides{SpecFile: "sub/m.yaml"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := config.TLS{CAFile: "sub/ca.pem", CertFile: "sub/c.pem", KeyFile: "k.pem"}
	if cfg.Source.TLS != want {
		t.Errorf("TLS = %+v, want %+v", cfg.Source.TLS, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub/m.yaml")); err != nil {
		t.Fatal(err)
	}
}

func defaultGroups(sel config.Selection) config.Groups {
	return config.Groups{Selection: sel, Sync: true, SyncInterval: config.DefaultGroupSyncInterval, MirrorWait: config.DefaultMirrorWait}
}
