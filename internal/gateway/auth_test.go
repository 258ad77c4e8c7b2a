package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestClientTLSAndSASL: the gateway's own TLS listener and SASL/PLAIN
// users, independent of the upstream's (PLAINTEXT here). The right
// credentials produce; a wrong password gets SASL_AUTHENTICATION_FAILED,
// another mechanism UNSUPPORTED_SASL_MECHANISM, and the gateway keeps
// serving.
func TestClientTLSAndSASL(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	files, err := kafkatest.GenerateTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := gatewayOptions(t, pair, name, topic)
	if opts.TLS, err = files.ServerConfig(false); err != nil {
		t.Fatal(err)
	}
	opts.Users = map[string]config.Secret{"app": "s3cret"}
	gw := startGateway(t, pair, opts)

	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	// A metadata request returns the connection's error (a produce
	// would retry until its context ends).
	produceAs := func(mech kgo.Opt) error {
		cl := client(t, gw, kgo.DialTLSConfig(tlsCfg.Clone()), mech)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		if _, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
			return err
		}
		return cl.ProduceSync(ctx, rec(topic, 0)).FirstErr()
	}
	if err := produceAs(kgo.SASL(plain.Auth{User: "app", Pass: "wrong"}.AsMechanism())); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	if err := produceAs(kgo.SASL(scram.Auth{User: "app", Pass: "s3cret"}.AsSha256Mechanism())); !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Errorf("SCRAM: %v, want UNSUPPORTED_SASL_MECHANISM", err)
	}
	if err := produceAs(kgo.SASL(plain.Auth{User: "app", Pass: "s3cret"}.AsMechanism())); err != nil {
		t.Errorf("right credentials: %v", err)
	}
	assertValues(t, "source", pair.Source.ConsumeAll(t, topic), 0, 1, -1)
}
