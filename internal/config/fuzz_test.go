package config_test

import (
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
)

// fuzzEnv knows one variable, so both expansion paths are exercised.
// (Whether secrets leak is tested on purpose-built inputs elsewhere: here
// ${PW} may land in a key that is not secret, whose value messages quote.)
var fuzzEnv = envOf(map[string]string{"PW": "pw"})

func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{
		"bootstrap.servers=a:1,b:2\nsecurity.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n",
		"a = b\\\n  c\n# comment\n! other\nd:e\nf g\n",
		`k\=ey=\u0041\ud83d\ude00\t\n\\`,
		"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"${PW}\";\n",
		"ssl.truststore.location=/dev/null\nssl.keystore.type=PEM\nssl.keystore.location=k.pem\nssl.key.password=x\n",
		"ssl.endpoint.identification.algorithm=\nenable.ssl.certificate.verification=false\nssl.ca.location=probe\n",
		"a=$${x}${PW}$\r\nb=\\\r\n",
		"\\u12", "a\\", "=", ":", " ", "\\\n\\\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := config.ParseProperties(strings.NewReader(in), "f.properties", fuzzEnv)
		if err != nil {
			return
		}
		for _, k := range p.Keys() {
			if _, _, ok := p.Get(k); !ok {
				t.Fatalf("Keys lists %q but Get does not find it", k)
			}
		}
		_ = p.String()
		var c config.Cluster
		if _, err := p.Apply(&c); err != nil {
			if c.PropertiesFile != "" {
				t.Fatalf("Apply failed but changed the cluster: %+v", c)
			}
			return
		}
		if c.PropertiesFile != "f.properties" {
			t.Fatalf("PropertiesFile = %q", c.PropertiesFile)
		}
		_ = c.Validate()
	})
}

func FuzzParseJAAS(f *testing.F) {
	for _, s := range []string{
		`org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`,
		`org.apache.kafka.common.security.scram.ScramLoginModule REQUIRED username='u' password='p\'q' tokenauth=false;`,
		"m required /* c */ a=b // d\n c=\"\\101\\0\\377\";",
		`m required a="unterminated`,
		`m required; n optional;`,
		"", ";", "=", `"`, "/*", "m r a=\"\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		j, err := config.ParseJAAS(in)
		if err != nil {
			return
		}
		if j.Module == "" || j.Flag == "" || j.Options == nil {
			t.Fatalf("ParseJAAS(%q) succeeded with an incomplete result: %+v", in, j)
		}
		switch j.Flag {
		case "required", "requisite", "sufficient", "optional":
		default:
			t.Fatalf("flag %q", j.Flag)
		}
		// Options that parse once parse again when written back quoted.
		var b strings.Builder
		b.WriteString(j.Module + " " + j.Flag)
		for k, v := range j.Options {
			b.WriteString(" " + quoteJAAS(k) + "=" + quoteJAAS(v.Reveal()))
		}
		b.WriteString(";")
		j2, err := config.ParseJAAS(b.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		if len(j2.Options) != len(j.Options) {
			t.Fatalf("re-parse changed options: %d != %d", len(j2.Options), len(j.Options))
		}
		for k, v := range j.Options {
			if j2.Options[k] != v {
				t.Fatalf("re-parse changed option %q", k)
			}
		}
	})
}

// quoteJAAS quotes s for a JAAS value, escaping only what must be.
func quoteJAAS(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}

func FuzzLoadSpec(f *testing.F) {
	for _, s := range []string{
		"version: 1\nname: x\nsource:\n  bootstrap: [a:1]\n  sasl: {mechanism: PLAIN, username: u, password: '${PW}'}\ntarget:\n  bootstrap: b:1\n",
		"topics:\n  include: ['orders\\..*']\n  exclude: [x]\ngroups: {include: ['.*']}\n",
		"source: &s {bootstrap: a:1}\ntarget:\n  <<: *s\n  client_id: x\n",
		"source:\n  tls: {insecure_skip_verify: true, ca_file: c}\n  connect_timeout: 1s\n",
		"- a\n", "a: [", "---\n---\n", "~", "version: 99999999999999999999\n",
		"topics: {include: '\\Qx'}\n",
		"topics:\n  prefix: old.\n  replication_factor: 3\n  reuse_empty: true\n  configs: {include: [retention.ms], exclude: [min.insync.replicas]}\n  sync_interval: 1m\n",
		"topics: {rename: 'migrated.{topic}.v2', replication_factor: -1}\n",
		"topics: {rename: '{topic}{topic}', prefix: p}\n",
		"topics: {rename: 'x{topc}'}\n",
		"mirror:\n  start: committed\n  start_fallback: latest\n  until: end\n  guarantee: at-least-once\n  tracing_headers: false\n  memory_budget: 1GiB\n  transaction_max_bytes: 64MB\n  transaction_interval: 1s\n  compression: ZSTD\n",
		"mirror: {start: '2026-01-02T15:04:05.5+01:00', memory_budget: 16777216}\n",
		"mirror: {memory_budget: 1 kib, transaction_max_bytes: '-1', start: 2026-13-01}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := config.ParseSpec(in, "f.yaml", fuzzEnv)
		if err != nil {
			return
		}
		// What ParseSpec accepts, the selections must compile.
		for _, sel := range []*config.SelectionSpec{topicsSelection(s.Topics), groupsSelection(s.Groups)} {
			if sel == nil {
				continue
			}
			if _, err := config.NewSelection(sel.Include, sel.Exclude); err != nil {
				t.Fatalf("ParseSpec accepted patterns NewSelection refuses: %v", err)
			}
		}
		// An accepted naming gives a legal target name for a short
		// legal source name.
		if ts := s.Topics; ts != nil {
			if ts.Prefix != "" && ts.Rename != "" {
				t.Fatalf("ParseSpec accepted both prefix %q and rename %q", ts.Prefix, ts.Rename)
			}
			n := config.Topics{Prefix: ts.Prefix, Rename: ts.Rename}.TargetName("o")
			if err := config.CheckTopicName(n); err != nil {
				t.Fatalf("prefix %q, rename %q: %v", ts.Prefix, ts.Rename, err)
			}
		}
		if m := s.Mirror; m != nil {
			if m.Start != nil {
				if _, err := config.ParseStartPosition(m.Start.String()); err != nil {
					t.Fatalf("start %v does not parse back: %v", m.Start, err)
				}
			}
			if m.MemoryBudget != nil && int64(*m.MemoryBudget) < config.MinMemoryBudget {
				t.Fatalf("ParseSpec accepted memory_budget %v", *m.MemoryBudget)
			}
			if m.Compression != "" {
				if c, err := config.ParseCompression(m.Compression); err != nil || c != m.Compression {
					t.Fatalf("compression %q not normalised: %q, %v", m.Compression, c, err)
				}
			}
		}
	})
}

// topicsSelection returns the topics section's selection, or nil.
func topicsSelection(ts *config.TopicsSpec) *config.SelectionSpec {
	if ts == nil {
		return nil
	}
	return &config.SelectionSpec{Include: ts.Include, Exclude: ts.Exclude}
}

func groupsSelection(gs *config.GroupsSpec) *config.SelectionSpec {
	if gs == nil {
		return nil
	}
	return &config.SelectionSpec{Include: gs.Include, Exclude: gs.Exclude}
}
