package kafkatest

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Option configures a test cluster made by New or NewPair.
type Option interface {
	apply(*settings)
}

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

// settings is what the options set; defaultSettings and validate are the
// only places that know the defaults and the rules.
type settings struct {
	role      string
	brokers   int
	sasl      config.SASL
	tls       bool
	mutualTLS bool
	dataDir   string
	clusterID string
	kfakeOpts []kfake.Opt
	external  bool

	// kfakeOnly names the options an external cluster cannot honour, for
	// the error that External() combined with them produces.
	kfakeOnly []string
}

// defaultBrokers is small because the machines running the tests are small,
// but above one so that partition leaders spread over brokers, as in
// production.
const defaultBrokers = 3

func defaultSettings() settings {
	return settings{role: "source", brokers: defaultBrokers}
}

func (s *settings) validate() error {
	var errs []error
	if s.brokers < 1 {
		errs = append(errs, fmt.Errorf("Brokers(%d): need at least one broker", s.brokers))
	}
	if s.sasl.Mechanism != "" {
		if _, err := config.ParseMechanism(string(s.sasl.Mechanism)); err != nil {
			errs = append(errs, fmt.Errorf("SASL: %w", err))
		}
		if s.sasl.Username == "" || !s.sasl.Password.IsSet() {
			errs = append(errs, errors.New("SASL: user and password must not be empty"))
		}
	}
	if s.external && len(s.kfakeOnly) > 0 {
		errs = append(errs, fmt.Errorf("External() cannot be combined with %v: external test clusters are plain PLAINTEXT clusters; build this test's clusters with kfake only", s.kfakeOnly))
	}
	return errors.Join(errs...)
}

// protocol is the security protocol the client configuration must use.
func (s *settings) protocol() config.SecurityProtocol {
	switch {
	case s.sasl.Mechanism != "" && s.tls:
		return config.SASLSSL
	case s.sasl.Mechanism != "":
		return config.SASLPlaintext
	case s.tls:
		return config.SSL
	default:
		return config.Plaintext
	}
}

// Role sets the cluster's config.Cluster Role, "source" by default for New.
// NewPair sets "source" and "target" itself.
func Role(role string) Option {
	return optionFunc(func(s *settings) { s.role = role })
}

// Brokers sets the number of kfake brokers (3 by default). External
// clusters have the brokers they have.
func Brokers(n int) Option {
	return optionFunc(func(s *settings) { s.brokers = n })
}

// SASL makes the cluster require SASL authentication with mechanism, and
// makes user a superuser with pass. The cluster's Config carries the same
// credentials, with security protocol SASL_PLAINTEXT, or SASL_SSL together
// with TLS or MutualTLS.
func SASL(mechanism config.Mechanism, user, pass string) Option {
	return optionFunc(func(s *settings) {
		s.sasl = config.SASL{Mechanism: mechanism, Username: user, Password: config.Secret(pass)}
		s.kfakeOnly = append(s.kfakeOnly, "SASL")
	})
}

// TLS makes the brokers listen with TLS, using certificates generated into
// the test's temporary directory. The cluster's Config trusts the generated
// CA through TLS.CAFile.
func TLS() Option {
	return optionFunc(func(s *settings) {
		s.tls = true
		s.kfakeOnly = append(s.kfakeOnly, "TLS")
	})
}

// MutualTLS is TLS where the brokers also require a client certificate
// signed by the generated CA. The cluster's Config carries the client
// certificate and key.
func MutualTLS() Option {
	return optionFunc(func(s *settings) {
		s.tls, s.mutualTLS = true, true
		s.kfakeOnly = append(s.kfakeOnly, "MutualTLS")
	})
}

// DataDir makes kfake persist the cluster's state in dir and reload it from
// there, so that a test can stop a cluster and start it again with its data.
// NewPair uses dir/source and dir/target.
func DataDir(dir string) Option {
	return optionFunc(func(s *settings) {
		s.dataDir = dir
		s.kfakeOnly = append(s.kfakeOnly, "DataDir")
	})
}

// ClusterID sets the cluster id instead of a random one. NewPair rejects it:
// a pair's ids must differ, so build such a pair from two New calls.
func ClusterID(id string) Option {
	return optionFunc(func(s *settings) {
		s.clusterID = id
		s.kfakeOnly = append(s.kfakeOnly, "ClusterID")
	})
}

// Kfake passes raw kfake options, applied after the harness's own, for
// features the harness does not wrap (ACLs, seed topics, broker configs).
func Kfake(opts ...kfake.Opt) Option {
	return optionFunc(func(s *settings) {
		s.kfakeOpts = append(s.kfakeOpts, opts...)
		s.kfakeOnly = append(s.kfakeOnly, "Kfake")
	})
}

// External declares that the test can run against real clusters: when the
// environment names them (KMIGRATE_TEST_SOURCE and KMIGRATE_TEST_TARGET,
// comma-separated bootstrap addresses), New and NewPair return those instead
// of kfake clusters. Without the environment variables, External changes
// nothing. Tests that use it must tolerate other data on the cluster: use
// TopicName for topics and group names.
func External() Option {
	return optionFunc(func(s *settings) { s.external = true })
}
