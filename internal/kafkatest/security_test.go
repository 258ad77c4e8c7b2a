package kafkatest_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestSecurityProtocols connects a franz-go client built from each
// cluster's Config, through the product's internal/cluster, to clusters
// that demand each supported security setting.
func TestSecurityProtocols(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []kafkatest.Option
		protocol  config.SecurityProtocol
		clientTLS bool // Config carries a client certificate
	}{
		{"PLAINTEXT", nil, config.Plaintext, false},
		{"SSL", []kafkatest.Option{kafkatest.TLS()}, config.SSL, false},
		{"SSL mutual", []kafkatest.Option{kafkatest.MutualTLS()}, config.SSL, true},
		{"SASL_PLAINTEXT PLAIN", []kafkatest.Option{kafkatest.SASL(config.Plain, "alice", "plain-secret")}, config.SASLPlaintext, false},
		{"SASL_PLAINTEXT SCRAM-SHA-256", []kafkatest.Option{kafkatest.SASL(config.ScramSHA256, "bob", "s256")}, config.SASLPlaintext, false},
		{"SASL_PLAINTEXT SCRAM-SHA-512", []kafkatest.Option{kafkatest.SASL(config.ScramSHA512, "carol", "s512")}, config.SASLPlaintext, false},
		{"SASL_SSL PLAIN", []kafkatest.Option{kafkatest.TLS(), kafkatest.SASL(config.Plain, "alice", "plain-secret")}, config.SASLSSL, false},
		{"SASL_SSL SCRAM-SHA-256", []kafkatest.Option{kafkatest.SASL(config.ScramSHA256, "bob", "s256"), kafkatest.TLS()}, config.SASLSSL, false},
		{"SASL_SSL SCRAM-SHA-512", []kafkatest.Option{kafkatest.TLS(), kafkatest.SASL(config.ScramSHA512, "carol", "s512")}, config.SASLSSL, false},
		{"SASL_SSL SCRAM-SHA-512 mutual", []kafkatest.Option{kafkatest.MutualTLS(), kafkatest.SASL(config.ScramSHA512, "carol", "s512")}, config.SASLSSL, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := kafkatest.New(t, append(tc.opts, kafkatest.Brokers(2))...)
			if c.Config.SecurityProtocol != tc.protocol {
				t.Errorf("Config.SecurityProtocol = %s, want %s", c.Config.SecurityProtocol, tc.protocol)
			}
			if tc.protocol.UsesTLS() && c.Config.TLS.CAFile != c.TLSFiles.CAFile {
				t.Errorf("Config.TLS.CAFile = %q, want the generated %q", c.Config.TLS.CAFile, c.TLSFiles.CAFile)
			}
			if hasCert := c.Config.TLS.CertFile != "" && c.Config.TLS.KeyFile != ""; hasCert != tc.clientTLS {
				t.Errorf("Config.TLS = %+v, want a client certificate: %v", c.Config.TLS, tc.clientTLS)
			}
			m, err := c.Admin(t).BrokerMetadata(ctx(t))
			if err != nil {
				t.Fatalf("metadata over %s: %v", tc.protocol, err)
			}
			if m.Cluster != c.ID || len(m.Brokers) != 2 {
				t.Errorf("metadata: cluster %q with %d brokers, want %q with 2", m.Cluster, len(m.Brokers), c.ID)
			}
		})
	}
}

// metadataErr tries a metadata request with cfg and returns its error. The
// short deadline is what ends a failing attempt: franz-go retries
// connections until its context is done.
func metadataErr(t *testing.T, cfg config.Cluster) error {
	t.Helper()
	cl, err := cluster.NewClient(&cfg, nil)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer cl.Close()
	c, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err = kadm.NewClient(cl).BrokerMetadata(c)
	return err
}

func TestSecurityRejections(t *testing.T) {
	t.Run("mutual TLS without a client certificate", func(t *testing.T) {
		t.Parallel()
		c := kafkatest.New(t, kafkatest.MutualTLS(), kafkatest.Brokers(1))
		cfg := c.Config
		cfg.TLS.CertFile, cfg.TLS.KeyFile = "", ""
		err := metadataErr(t, cfg)
		// TLS 1.3 finishes the client's side of the handshake before
		// the broker checks the certificate, so the refusal arrives as
		// an alert on the first read. crypto/tls does not export its
		// alert type for TCP connections; its text is stable.
		if err == nil || !strings.Contains(err.Error(), "remote error: tls: certificate required") {
			t.Errorf("metadata without a client certificate: err = %v, want the broker's certificate-required alert", err)
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		t.Parallel()
		c := kafkatest.New(t, kafkatest.TLS(), kafkatest.Brokers(1))
		cfg := c.Config
		cfg.TLS.CAFile = c.TLSFiles.OtherCAFile
		err := metadataErr(t, cfg)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("metadata trusting another CA: err = %v, want x509.UnknownAuthorityError", err)
		}
	})
	t.Run("wrong SASL password", func(t *testing.T) {
		t.Parallel()
		c := kafkatest.New(t, kafkatest.SASL(config.ScramSHA256, "bob", "right"), kafkatest.Brokers(1))
		cfg := c.Config
		cfg.SASL.Password = "wrong"
		err := metadataErr(t, cfg)
		// kfake closes the connection on bad credentials where Kafka
		// answers SASL_AUTHENTICATION_FAILED.
		if !errors.Is(err, io.EOF) && !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("metadata with a wrong password: err = %v, want the connection closed (kfake) or SASL_AUTHENTICATION_FAILED", err)
		}
	})
}
