package cluster_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func connect(t *testing.T, c config.Cluster) error {
	t.Helper()
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 3 * time.Second
	}
	cl, err := cluster.Connect(t.Context(), &c, nil)
	if err == nil {
		cl.Close()
	}
	return err
}

func TestConnectAndProbeEverySecurityProtocol(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []kafkatest.Option
	}{
		{"PLAINTEXT", nil},
		{"SSL", []kafkatest.Option{kafkatest.TLS()}},
		{"SSL mutual", []kafkatest.Option{kafkatest.MutualTLS()}},
		{"SASL_PLAINTEXT PLAIN", []kafkatest.Option{kafkatest.SASL(config.Plain, "alice", "pw-plain")}},
		{"SASL_PLAINTEXT SCRAM-SHA-256", []kafkatest.Option{kafkatest.SASL(config.ScramSHA256, "bob", "pw-256")}},
		{"SASL_PLAINTEXT SCRAM-SHA-512", []kafkatest.Option{kafkatest.SASL(config.ScramSHA512, "carol", "pw-512")}},
		{"SASL_SSL PLAIN", []kafkatest.Option{kafkatest.TLS(), kafkatest.SASL(config.Plain, "alice", "pw-plain")}},
		{"SASL_SSL SCRAM-SHA-256", []kafkatest.Option{kafkatest.TLS(), kafkatest.SASL(config.ScramSHA256, "bob", "pw-256")}},
		{"SASL_SSL SCRAM-SHA-512 mutual", []kafkatest.Option{kafkatest.MutualTLS(), kafkatest.SASL(config.ScramSHA512, "carol", "pw-512")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := kafkatest.New(t, append(tc.opts, kafkatest.Brokers(2))...)
			cl, err := cluster.Connect(t.Context(), &c.Config, nil)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			defer cl.Close()
			info, err := cluster.Probe(t.Context(), cl, &c.Config)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if info.ClusterID != c.ID {
				t.Errorf("cluster id = %q, want %q", info.ClusterID, c.ID)
			}
			if len(info.Brokers) != 2 {
				t.Fatalf("brokers = %v, want 2", info.Brokers)
			}
			for i, b := range info.Brokers {
				if b.ID != int32(i) || b.Addr() != c.Addrs[i] {
					t.Errorf("broker %d = %d %s, want %d %s", i, b.ID, b.Addr(), i, c.Addrs[i])
				}
			}
			f := info.Features
			if !f.Transactions || !f.Idempotence || !f.DeleteRecords || !f.IncrementalConfigs || !f.KIP848Groups {
				t.Errorf("features = %+v, want all true on kfake", f)
			}
		})
	}
}

func TestConnectErrors(t *testing.T) {
	const secret = "Sup3r-S3cret-pw"
	tlsCluster := kafkatest.New(t, kafkatest.TLS(), kafkatest.Brokers(1))
	mtlsCluster := kafkatest.New(t, kafkatest.MutualTLS(), kafkatest.Brokers(1))
	saslCluster := kafkatest.New(t, kafkatest.SASL(config.ScramSHA256, "bob", secret), kafkatest.Brokers(1))
	plainCluster := kafkatest.New(t, kafkatest.Brokers(1))
	down := closedPort(t)

	for _, tc := range []struct {
		name string
		cfg  func() config.Cluster
		kind error
		want string // the whole message
	}{
		{
			name: "unreachable",
			cfg:  func() config.Cluster { return config.Cluster{Role: "source", Bootstrap: []string{down}} },
			kind: cluster.ErrUnreachable,
			want: "source: cannot reach bootstrap servers " + down + ": dial tcp " + down + ": connect: connection refused; nothing listens there: check the host and port and that the cluster is running",
		},
		{
			name: "unknown CA",
			cfg: func() config.Cluster {
				c := tlsCluster.Config
				c.TLS.CAFile = tlsCluster.TLSFiles.OtherCAFile
				return c
			},
			kind: cluster.ErrTLS,
			want: "source: TLS handshake with " + tlsCluster.Addrs[0] + " failed: tls: failed to verify certificate: x509: certificate signed by unknown authority; the broker certificate is signed by an authority kmigrate does not trust: set the CA file (ssl.ca.location or ssl.truststore.location in the properties file, tls.ca_file in the spec) to the CA that signed the broker certificates",
		},
		{
			name: "wrong password",
			cfg: func() config.Cluster {
				c := saslCluster.Config
				c.SASL.Password = "wrong-" + secret
				return c
			},
			kind: cluster.ErrAuth,
			want: "source: authentication to " + saslCluster.Addrs[0] + " failed: the broker closed the connection during SCRAM-SHA-256 authentication; the cluster rejected user \"bob\" with mechanism SCRAM-SHA-256: check the username and password (sasl.username and sasl.password, or sasl.jaas.config) and that the user exists for that mechanism",
		},
		{
			name: "mutual TLS without a client certificate",
			cfg: func() config.Cluster {
				c := mtlsCluster.Config
				c.TLS.CertFile, c.TLS.KeyFile = "", ""
				return c
			},
			kind: cluster.ErrTLS,
			want: "source: TLS handshake with " + mtlsCluster.Addrs[0] + " failed: remote error: tls: certificate required; the broker requires a valid client certificate (mutual TLS): set ssl.certificate.location and ssl.key.location (tls.cert_file and tls.key_file) to a certificate the broker trusts",
		},
		{
			name: "wrong server name",
			cfg: func() config.Cluster {
				c := tlsCluster.Config
				c.TLS.ServerName = "kafka.example.com"
				return c
			},
			kind: cluster.ErrTLS,
			want: "source: TLS handshake with " + tlsCluster.Addrs[0] + " failed: tls: failed to verify certificate: x509: certificate is valid for localhost, not kafka.example.com; the broker certificate is not valid for the address used: connect with a name the certificate lists, or set tls.server_name (kmigrate.ssl.server.name) to one",
		},
		{
			name: "TLS client on a plaintext listener",
			cfg: func() config.Cluster {
				c := plainCluster.Config
				c.SecurityProtocol = config.SSL
				c.TLS.CAFile = tlsCluster.TLSFiles.CAFile
				return c
			},
			kind: cluster.ErrTLS,
			want: "source: TLS handshake with " + plainCluster.Addrs[0] + " failed: " + plainCluster.Addrs[0] + " accepts connections but did not answer the TLS handshake within 3s; the listener probably does not speak TLS: use security.protocol PLAINTEXT or SASL_PLAINTEXT, or the cluster's TLS port",
		},
		{
			name: "plaintext client on a TLS listener",
			cfg: func() config.Cluster {
				c := tlsCluster.Config
				c.SecurityProtocol, c.TLS = config.Plaintext, config.TLS{}
				return c
			},
			kind: cluster.ErrProtocol,
			want: "source: connection to " + tlsCluster.Addrs[0] + " failed during set-up: broker closed the connection immediately during api versions negotiation, which often happens when the broker requires TLS but the client is using plaintext: is TLS missing?; the broker closed the connection; its listener probably expects a different security.protocol than PLAINTEXT (TLS or SASL): check the port and security.protocol",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := connect(t, tc.cfg())
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want kind %v", err, tc.kind)
			}
			var ce *cluster.ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("err %T is not a *ConnectError", err)
			}
			if err.Error() != tc.want {
				t.Errorf("message:\n got %s\nwant %s", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("message contains the password: %s", err)
			}
		})
	}
}

func TestConnectTimeoutIsBounded(t *testing.T) {
	// A listener that accepts and never answers: the connection succeeds,
	// ApiVersions never returns, and Connect must give up at the timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := config.Cluster{Role: "target", Bootstrap: []string{ln.Addr().String()}, ConnectTimeout: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = cluster.Connect(ctx, &c, nil)
	if !errors.Is(err, cluster.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Connect ran past its own timeout of %s", c.ConnectTimeout)
	}
	want := "no broker answered within the connect timeout of " + (300 * time.Millisecond).String()
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not contain %q", err, want)
	}
}
