// Command realkafka starts real Kafka clusters on loopback by hand, for
// benchmarks and debugging: each --cluster flag is one cluster, and the
// command prints their bootstrap addresses, then waits for Ctrl-C and
// stops them. Fetch the versions first with kafka/fetch.
//
//	go run ./internal/kafkatest/realkafka/cmd/realkafka --cluster 3.9.1 --cluster 4.4.0:3
//	go run ./internal/kafkatest/realkafka/cmd/realkafka --cluster 4.4.0 --sasl-ssl
//
// With --sasl-ssl the clusters (KRaft only) accept SASL_SSL with
// SCRAM-SHA-512 for the user admin (password admin-secret); the CA is
// written under --dir.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

type clusters []string

func (c *clusters) String() string     { return strings.Join(*c, ",") }
func (c *clusters) Set(v string) error { *c = append(*c, v); return nil }

func main() {
	var cs clusters
	flag.Var(&cs, "cluster", "VERSION[:BROKERS] of a cluster to start (repeatable)")
	dir := flag.String("dir", "", "folder for the clusters' data and logs (default: a temporary folder, removed at exit)")
	saslSSL := flag.Bool("sasl-ssl", false, "SASL_SSL with SCRAM-SHA-512 (user admin, password admin-secret)")
	flag.Parse()
	if len(cs) == 0 {
		cs = clusters{realkafka.ZooKeeperVersion, realkafka.KRaftVersion}
	}
	if err := run(cs, *dir, *saslSSL); err != nil {
		fmt.Fprintln(os.Stderr, "realkafka:", err)
		os.Exit(1)
	}
}

func run(cs clusters, dir string, saslSSL bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if dir == "" {
		d, err := os.MkdirTemp("", "realkafka-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	for i, spec := range cs {
		version, brokers, _ := strings.Cut(spec, ":")
		n := 1
		if brokers != "" {
			var err error
			if n, err = strconv.Atoi(brokers); err != nil {
				return fmt.Errorf("--cluster %q: %w", spec, err)
			}
		}
		name := fmt.Sprintf("c%d-%s", i+1, version)
		cfg := realkafka.Config{Version: version, Brokers: n, Name: name, Dir: filepath.Join(dir, name)}
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return err
		}
		if saslSSL {
			files, err := kafkatest.GenerateTLS(cfg.Dir)
			if err != nil {
				return err
			}
			cfg.SASLSSL = &realkafka.SASLSSL{CAFile: files.CAFile, CertFile: files.ServerCertFile, KeyFile: files.ServerKeyFile,
				Users: map[string]string{"admin": "admin-secret"}}
		}
		c, err := realkafka.Start(ctx, cfg)
		if err != nil {
			return err
		}
		defer c.Stop()
		fmt.Printf("%s: Kafka %s, %d broker(s), bootstrap %s, data and logs in %s\n", name, version, n, c.Bootstrap(), cfg.Dir)
	}
	fmt.Println("press Ctrl-C to stop")
	<-ctx.Done()
	return nil
}
