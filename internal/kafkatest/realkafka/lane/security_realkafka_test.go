package lane_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// secureCluster is a SASL_SSL (SCRAM-SHA-512) cluster and its files.
type secureCluster struct {
	rk  *realkafka.Cluster
	tls kafkatest.TLSFiles
}

// config returns a client configuration for user on c.
func (s *secureCluster) config(role, user, pass string) config.Cluster {
	return config.Cluster{
		Role: role, Bootstrap: s.rk.Addrs(), SecurityProtocol: config.SASLSSL,
		SASL: config.SASL{Mechanism: config.ScramSHA512, Username: user, Password: config.Secret(pass)},
		TLS:  config.TLS{CAFile: s.tls.CAFile},
	}
}

// startSecure starts one Kafka 4.x SASL_SSL cluster per config,
// concurrently, each with its own certificates, stopped when the test
// ends.
func startSecure(t *testing.T, cfgs ...realkafka.Config) []*secureCluster {
	t.Helper()
	if !realkafka.Enabled() {
		t.Skipf("real Kafka lane off: set %s=1 (make test-kafka)", realkafka.EnvLane)
	}
	out := make([]*secureCluster, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		dir := t.TempDir()
		files, err := kafkatest.GenerateTLS(dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg.SASLSSL.CAFile, cfg.SASLSSL.CertFile, cfg.SASLSSL.KeyFile = files.CAFile, files.ServerCertFile, files.ServerKeyFile
		out[i] = &secureCluster{tls: files}
		wg.Go(func() { out[i].rk, errs[i] = realkafka.Start(context.Background(), cfg) })
	}
	wg.Wait()
	for i := range out {
		if rk := out[i].rk; rk != nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s logs:\n%s", cfgs[i].Name, rk.Logs(30))
				}
				rk.Stop()
			})
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	return out
}

// clusterYAML is a spec's source: or target: section for c.
func clusterYAML(c config.Cluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n  bootstrap: [%s]\n", c.Role, strings.Join(c.Bootstrap, ", "))
	if c.SecurityProtocol != "" {
		fmt.Fprintf(&b, "  security_protocol: %s\n", c.SecurityProtocol)
	}
	if c.SASL.Mechanism != "" {
		fmt.Fprintf(&b, "  sasl:\n    mechanism: %s\n    username: %s\n    password: %s\n", c.SASL.Mechanism, c.SASL.Username, c.SASL.Password.Reveal())
	}
	if c.TLS.CAFile != "" {
		fmt.Fprintf(&b, "  tls:\n    ca_file: %s\n", c.TLS.CAFile)
	}
	return b.String()
}

// newSecureMigration writes a spec for a migration between src and tgt
// (client configurations with credentials); extra is appended YAML.
func newSecureMigration(t *testing.T, src, tgt config.Cluster, extra string) *migration {
	t.Helper()
	spec := fmt.Sprintf("version: 1\nname: %s\n%s%s%s", kafkatest.TopicName(t, "m"), clusterYAML(src), clusterYAML(tgt), extra)
	path := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	return &migration{spec: path}
}

// TestSASLSSL runs a migration between two Kafka 4.x clusters that accept
// only SASL_SSL with SCRAM-SHA-512: check, mirror of every record shape,
// verify, and a confluent-kafka-python group (librdkafka's SASL, which
// kfake cannot serve) moved with groups migrate, exactly once.
func TestSASLSSL(t *testing.T) {
	users := map[string]string{"admin": "admin-secret", "migrator": "migrator-secret", "app": "app-secret"}
	cs := startSecure(t,
		realkafka.Config{Version: realkafka.KRaftVersion, Name: "sasl-source", SASLSSL: &realkafka.SASLSSL{Users: users}},
		realkafka.Config{Version: realkafka.KRaftVersion, Name: "sasl-target", SASLSSL: &realkafka.SASLSSL{Users: users}},
	)
	src := kafkatest.ConnectConfig(t, cs[0].config("source", "admin", users["admin"]))
	tgt := kafkatest.ConnectConfig(t, cs[1].config("target", "admin", users["admin"]))
	variety, orders, group := kafkatest.TopicName(t, "variety"), kafkatest.TopicName(t, "orders"), kafkatest.TopicName(t, "pygroup")
	src.CreateTopic(t, variety, 3, map[string]string{"retention.ms": "-1"})
	n := produceVariety(t, src, variety, 3)
	const total, first = 200, 77
	seedOrders(t, src, orders, 2, total)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seen := map[string]int{}
	appSrc := kafkatest.ConnectConfig(t, cs[0].config("source", "app", users["app"]))
	msgs, err := kafkatest.NewPython(t, appSrc).ConsumeGroup(ctx, group, []string{orders}, first)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		seen[*m.Key]++
	}

	m := newSecureMigration(t, cs[0].config("source", "migrator", users["migrator"]), cs[1].config("target", "migrator", users["migrator"]),
		fmt.Sprintf("topics:\n  include: [%s, %s]\ngroups:\n  include: [%s]\n", variety, orders, group))
	out := mustRun(t, m.args("check")...)
	if !strings.Contains(out, "OK: both clusters are reachable and distinct.") {
		t.Errorf("check:\n%s", out)
	}
	mustRun(t, m.args("mirror", "--until", "end")...)
	got := consumeSettled(t, src, variety)
	if len(got) != n {
		t.Fatalf("source holds %d committed records, want %d", len(got), n)
	}
	sameRecords(t, got, consumeSettled(t, tgt, variety))
	mustRun(t, m.args("verify")...)
	mustRun(t, m.args("groups", "migrate", "--group", group)...)

	settle(t, tgt, orders) // the consumer reads to the last stable offset
	appTgt := kafkatest.ConnectConfig(t, cs[1].config("target", "app", users["app"]))
	msgs, err = kafkatest.NewPython(t, appTgt).ConsumeGroup(ctx, group, []string{orders}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		seen[*m.Key]++
	}
	exactlyOnce(t, seen, total)
}
