package cli_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/cli"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// kmigrate runs the CLI in-process and returns its exit code and output.
func kmigrate(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var o, e bytes.Buffer
	code = cli.Main(ctx, args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCheckBadInput runs `kmigrate check` with bad input of every kind and
// asserts the specific message, the exit code, that no secret is printed,
// and that nothing was written to either cluster.
func TestCheckBadInput(t *testing.T) {
	const secret = "Pa55-w0rd-XYZ"
	t.Setenv("KMIGRATE_TEST_PW", secret)
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	tlsC := kafkatest.New(t, kafkatest.TLS(), kafkatest.Brokers(1), kafkatest.Role("target"))
	saslC := kafkatest.New(t, kafkatest.SASL(config.ScramSHA256, "bob", secret), kafkatest.Brokers(1), kafkatest.Role("target"))
	src, tgt := pair.Source.Addrs[0], pair.Target.Addrs[0]
	dir := t.TempDir()
	down := closedAddr(t)

	jks := write(t, dir, "truststore.jks", "\xfe\xed\xfe\xed\x00\x00\x00\x02")
	notPEM := write(t, dir, "ca.txt", "this is not a certificate\n")
	props := func(name, body string) string { return write(t, dir, name, body) }

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // substrings of stderr, each specific to the problem
	}{
		{"nothing given", []string{"check"}, 2,
			[]string{"no migration given: pass -f migration.yaml"}},
		{"missing source bootstrap", []string{"check", "--target", tgt}, 2,
			[]string{"source: no bootstrap servers: set --source HOST:PORT"}},
		{"bad port", []string{"check", "--source", "127.0.0.1:99999", "--target", tgt}, 2,
			[]string{`source: bootstrap server "127.0.0.1:99999"`, "65535"}},
		{"unreachable host", []string{"check", "--source", down, "--target", tgt, "--connect-timeout", "2s"}, 1,
			[]string{"source: cannot reach bootstrap servers " + down + ": dial tcp " + down + ": connect: connection refused; nothing listens there"}},
		{"unknown security.protocol", []string{"check", "--source-config", props("p1.properties", "bootstrap.servers="+src+"\nsecurity.protocol=SASL_TLS\n"), "--target", tgt}, 2,
			[]string{`unknown security.protocol "SASL_TLS": use one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL`}},
		{"SASL without credentials", []string{"check", "--source-config", props("p2.properties", "bootstrap.servers="+src+"\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"), "--target", tgt}, 2,
			[]string{"source: security.protocol SASL_PLAINTEXT needs SASL credentials"}},
		{"unsupported mechanism", []string{"check", "--source-config", props("p3.properties", "bootstrap.servers="+src+"\nsecurity.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\n"), "--target", tgt}, 2,
			[]string{`unsupported SASL mechanism "GSSAPI": kmigrate supports PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`}},
		{"unreadable CA file", []string{"check", "--source", src, "--target-config", props("p4.properties", "bootstrap.servers="+tgt+"\nsecurity.protocol=SSL\nssl.ca.location="+filepath.Join(dir, "missing.pem")+"\n")}, 2,
			[]string{`target: read CA file "` + filepath.Join(dir, "missing.pem") + `"`, "no such file or directory"}},
		{"invalid CA file", []string{"check", "--source", src, "--target-config", props("p5.properties", "bootstrap.servers="+tgt+"\nsecurity.protocol=SSL\nssl.ca.location="+notPEM+"\n")}, 2,
			[]string{`target: CA file "` + notPEM + `" holds no PEM certificate`}},
		{"JKS truststore", []string{"check", "--source", src, "--target-config", props("p6.properties", "bootstrap.servers="+tgt+"\nsecurity.protocol=SSL\nssl.truststore.location="+jks+"\nssl.truststore.password=changeit\n")}, 2,
			[]string{"JKS", "keytool -importkeystore", "openssl pkcs12", "ssl.truststore.type=PEM"}},
		{"security key not understood", []string{"check", "--source-config", props("p7.properties", "bootstrap.servers="+src+"\nssl.engine.factory.class=com.example.Engine\n"), "--target", tgt}, 2,
			[]string{"p7.properties:2:", "ssl.engine.factory.class"}},
		{"unknown spec field", []string{"check", "-f", write(t, dir, "m1.yaml", "source:\n  bootstrap: "+src+"\ntarget:\n  bootstap: "+tgt+"\n")}, 2,
			[]string{"m1.yaml:4", `unknown field "bootstap" in target`, `did you mean "bootstrap"`}},
		{"invalid regex", []string{"check", "--source", src, "--target", tgt, "--topics", "orders(["}, 2,
			[]string{"orders([", "missing closing"}},
		{"unset environment variable", []string{"check", "-f", write(t, dir, "m2.yaml", "source:\n  bootstrap: "+src+"\n  security_protocol: SASL_PLAINTEXT\n  sasl: {mechanism: PLAIN, username: u, password: \"${KMIGRATE_NOT_SET_ANYWHERE}\"}\ntarget:\n  bootstrap: "+tgt+"\n")}, 2,
			[]string{"m2.yaml:4: source.sasl.password: environment variable KMIGRATE_NOT_SET_ANYWHERE is not set"}},
		{"source equals target", []string{"check", "--source", src, "--target", src}, 1,
			[]string{"source and target are the same cluster (cluster id " + pair.Source.ID + ")"}},
		{"wrong password", []string{"check", "--source", src, "--connect-timeout", "3s", "--target-config", props("p8.properties",
			"bootstrap.servers="+saslC.Addrs[0]+"\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"bob\" password=\"wrong${KMIGRATE_TEST_PW}\";\n")}, 1,
			[]string{"target: authentication to " + saslC.Addrs[0] + " failed", `the cluster rejected user "bob" with mechanism SCRAM-SHA-256`}},
		{"unknown CA", []string{"check", "--source", src, "--target-config", props("p9.properties",
			"bootstrap.servers="+tlsC.Addrs[0]+"\nsecurity.protocol=SSL\nssl.ca.location="+tlsC.TLSFiles.OtherCAFile+"\n")}, 1,
			[]string{"target: TLS handshake with " + tlsC.Addrs[0] + " failed", "x509: certificate signed by unknown authority", "set the CA file"}},
		{"negative connect timeout", []string{"check", "--source", src, "--target", tgt, "--connect-timeout", "-1s"}, 2,
			[]string{"--connect-timeout: -1s is not positive: use a duration such as 30s, or leave it out for the default (10s)"}},
		{"zero connect timeout", []string{"check", "--source", src, "--target", tgt, "--connect-timeout", "0s"}, 2,
			[]string{"--connect-timeout: 0s is not positive: use a duration such as 30s, or leave it out for the default (10s)"}},
		{"negative connect timeout in the spec", []string{"check", "-f", write(t, dir, "m3.yaml", "source:\n  bootstrap: "+src+"\ntarget:\n  bootstrap: "+tgt+"\n  connect_timeout: -2s\n")}, 2,
			[]string{"m3.yaml:5: target.connect_timeout: -2s is not positive: use a duration such as 30s, or leave it out for the default (10s)"}},
		{"bad output format", []string{"check", "--source", src, "--target", tgt, "--output", "yaml"}, 2,
			[]string{`--output "yaml": use text or json`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := kmigrate(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstderr: %s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("output contains the secret:\n%s%s", stdout, stderr)
			}
		})
	}
	// check writes nothing: no topic appeared on any cluster.
	for _, c := range []*kafkatest.Cluster{pair.Source, pair.Target, tlsC, saslC} {
		topics, err := c.Admin(t).ListTopics(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(topics) != 0 {
			t.Errorf("cluster %s has topics %v after check", c.ID, topics.Names())
		}
	}
}
