package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kmigrate/kmigrate/internal/config"
)

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

func TestSecretFormats(t *testing.T) {
	s := config.Secret(secret)
	for _, tt := range []struct{ verb, want string }{
		{"%v", "[redacted]"}, {"%+v", "[redacted]"}, {"%s", "[redacted]"},
		{"%q", `"[redacted]"`}, {"%x", "[redacted]"}, {"%d", "[redacted]"},
		{"%#v", `config.Secret("[redacted]")`},
	} {
		if got := fmt.Sprintf(tt.verb, s); got != tt.want {
			t.Errorf("Sprintf(%q) = %q, want %q", tt.verb, got, tt.want)
		}
	}
	if got := fmt.Sprint(config.Secret("")); got != "" {
		t.Errorf("empty secret prints %q, want \"\"", got)
	}
	if s.Reveal() != secret {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
}

// TestConfigPrintsNoSecret loads a Config holding the secret as a SASL
// password and an inline key, then prints it every way a program might.
func TestConfigPrintsNoSecret(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"m.yaml": "name: n\nsource:\n  bootstrap: a:1\n  properties_file: s.properties\n" +
			"target:\n  bootstrap: b:1\n  security_protocol: SASL_PLAINTEXT\n  sasl: {mechanism: PLAIN, username: u, password: '${PW}'}\n",
		"s.properties": "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n" +
			"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=\"${PW}\";\n" +
			"ssl.keystore.type=PEM\nssl.keystore.certificate.chain=CHAIN\nssl.keystore.key=${PW}\n",
	})
	cfg, _, err := config.Load(config.Overrides{SpecFile: dir + "/m.yaml"}, secretEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.SASL.Password.Reveal() != secret || cfg.Source.TLS.KeyPEM.Reveal() != secret || cfg.Target.SASL.Password.Reveal() != secret {
		t.Fatalf("the test config does not hold the secret: %+v", cfg)
	}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outputs[verb] = fmt.Sprintf(verb, cfg)
		outputs[verb+" value"] = fmt.Sprintf(verb, *cfg)
		outputs[verb+" cluster"] = fmt.Sprintf(verb, cfg.Source)
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", cfg, "password", cfg.Source.SASL.Password)
	outputs["slog"] = logged.String()
	for how, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("%s output contains the secret: %s", how, out)
		}
	}
	if !strings.Contains(outputs["json"], `"password":"[redacted]"`) {
		t.Errorf("json = %s, want the redacted password", outputs["json"])
	}
}

func TestSpecPrintsNoSecret(t *testing.T) {
	s, err := config.ParseSpec([]byte("source:\n  sasl: {password: '${PW}'}\n"), "m.yaml", secretEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if out := fmt.Sprintf(verb, s.Source.SASL); strings.Contains(out, secret) {
			t.Errorf("%s prints the secret: %s", verb, out)
		}
	}
	j, _ := json.Marshal(s)
	if strings.Contains(string(j), secret) {
		t.Errorf("json prints the secret: %s", j)
	}
}

// TestPropertiesErrorsHideSecrets triggers every properties-level error
// path with the secret as the value of a secret key, or next to the fault,
// and checks the message does not repeat it.
func TestPropertiesErrorsHideSecrets(t *testing.T) {
	const plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
	const scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
	files := []string{
		"sasl.jaas.config=" + plain + " required username=u password=\"" + secret + "\"",
		"sasl.jaas.config=" + plain + " required username=u password=\"" + secret,
		"sasl.jaas.config=" + plain + " required username=u password=\"" + secret + "\" " + secret + "=x;",
		"sasl.jaas.config=" + plain + " required username=u password=\"" + secret + "\" password=x;",
		"sasl.jaas.config=" + plain + " required username=u password=\"S3cr3t\"-Pa55\";",
		"sasl.jaas.config=" + plain + " required username=u password=" + secret + "; x required;",
		"sasl.jaas.config=" + plain + " required username=u password=" + secret + " " + secret + ";",
		"sasl.jaas.config=" + plain + " " + secret + " password=x;",
		"sasl.jaas.config=com.example.Module required password=" + secret + ";",
		"sasl.mechanism=SCRAM-SHA-256\nsasl.jaas.config=" + plain + " required password=" + secret + ";",
		"sasl.jaas.config=" + scram + " required password=" + secret + " tokenauth=true;",
		"sasl.password=" + secret + "\nsasl.jaas.config=" + plain + " required username=u password=other;",
		"sasl.password=other\nsasl.password=" + secret,
		"ssl.keystore.key=" + secret + "\nssl.key.pem=other",
		"ssl.keystore.key=" + secret + "\nssl.key.location=k.pem",
		"ssl.key.password=" + secret,
		"ssl.keystore.password=" + secret + "\nssl.keystore.type=JKS\nssl.keystore.location=k.jks",
		"sasl.password=" + secret + `\u12`,
		"sasl.password=" + secret + "${NOPE}",
		"sasl.password=" + secret + "${",
		"sasl.password=${" + secret + "}",
		// A broken continuation leaves the tail of a secret as a key.
		"sasl.jaas.config=" + plain + " required \\\n username=u\n " + secret + "\";",
		secret + "=x",
		secret,
		"sasl.oauthbearer.client.secret=" + secret,
		"ssl.truststore.password=" + secret + "\nssl.truststore.location=missing.jks",
	}
	for _, f := range files {
		p, err := config.ParseProperties(strings.NewReader(f), "p.properties", noEnv)
		var warnings []string
		if err == nil {
			c := config.Cluster{}
			warnings, err = p.Apply(&c)
		}
		if err == nil && len(warnings) == 0 {
			t.Errorf("%q: no error or warning", f)
		}
		if err != nil && strings.Contains(err.Error(), "Pa55") {
			t.Errorf("%q: error leaks the secret: %v", f, err)
		}
		for _, w := range warnings {
			if strings.Contains(w, "Pa55") {
				t.Errorf("%q: warning leaks the secret: %s", f, w)
			}
		}
	}
}
