package cluster

import (
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Opts returns the franz-go options that connect to c with its security
// settings: seeds, TLS, SASL, client id and dial timeout. It reads the
// certificate files c names. Callers add their own options (consumer,
// producer, transactions) after these.
func Opts(c *config.Cluster, logger *slog.Logger) ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID = "kmigrate"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Bootstrap...),
		kgo.ClientID(clientID),
		kgo.DialTimeout(c.Timeout()),
	}
	p := c.Protocol()
	if p.UsesTLS() {
		tc, err := tlsConfig(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Role, err)
		}
		if c.TLS.InsecureSkipVerify && logger != nil {
			logger.Warn("TLS certificate verification is DISABLED: anyone between kmigrate and the cluster can read and change the data; use it only for test clusters",
				"cluster", c.Role)
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if p.UsesSASL() {
		m, err := saslMechanism(&c.SASL)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Role, err)
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func saslMechanism(s *config.SASL) (sasl.Mechanism, error) {
	user, pass := s.Username, s.Password.Reveal()
	switch s.Mechanism {
	case config.Plain:
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case config.ScramSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case config.ScramSHA512:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	default:
		_, err := config.ParseMechanism(string(s.Mechanism))
		return nil, err
	}
}

// NewClient returns a franz-go client for c with opts appended to the
// connection options. It does not contact the cluster.
func NewClient(c *config.Cluster, logger *slog.Logger, opts ...kgo.Opt) (*kgo.Client, error) {
	base, err := Opts(c, logger)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: create client: %w", c.Role, err)
	}
	return cl, nil
}
