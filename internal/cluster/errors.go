package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Sentinels for the kinds of connection failure a user can act on. Test a
// ConnectError's kind with errors.Is(err, cluster.ErrTLS).
var (
	// ErrUnreachable: no broker answered within the connect timeout.
	ErrUnreachable = errors.New("cluster unreachable")
	// ErrTLS: the TLS handshake failed (unknown CA, wrong host name,
	// missing client certificate, a listener that does not speak TLS).
	ErrTLS = errors.New("tls handshake failed")
	// ErrAuth: the cluster rejected the SASL credentials or mechanism.
	ErrAuth = errors.New("authentication failed")
	// ErrProtocol: the broker closed the connection during set-up, which
	// almost always means security.protocol does not match the listener.
	ErrProtocol = errors.New("connection set-up failed")
	// ErrSameCluster: source and target are one cluster.
	ErrSameCluster = errors.New("source and target are the same cluster")
)

// ConnectError is a failure to connect to one cluster, classified so the
// message can say what to fix. It unwraps to its kind (one of the sentinels
// above) and to the underlying error.
type ConnectError struct {
	Role      string   // "source" or "target"
	Bootstrap []string // the seed brokers tried
	Kind      error    // ErrUnreachable, ErrTLS, ErrAuth or ErrProtocol
	Err       error    // what franz-go or the network said
	Hint      string   // what to do about it
}

func (e *ConnectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Role, e.summary())
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *ConnectError) summary() string {
	addrs := strings.Join(e.Bootstrap, ",")
	switch e.Kind {
	case ErrUnreachable:
		return fmt.Sprintf("cannot reach bootstrap servers %s", addrs)
	case ErrTLS:
		return fmt.Sprintf("TLS handshake with %s failed", addrs)
	case ErrAuth:
		return fmt.Sprintf("authentication to %s failed", addrs)
	default:
		return fmt.Sprintf("connection to %s failed during set-up", addrs)
	}
}

// Unwrap lets errors.Is match both the kind and the cause.
func (e *ConnectError) Unwrap() []error { return []error{e.Kind, e.Err} }

// classify turns a connection error into a ConnectError, or returns nil
// when err says nothing about the connection. The ConnectError carries the
// most specific error found in the chain, without franz-go's wrapping.
func classify(c *config.Cluster, err error) *ConnectError {
	if err == nil {
		return nil
	}
	ce := &ConnectError{Role: c.Role, Bootstrap: c.Bootstrap, Err: err}
	var (
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
		recordErr   tls.RecordHeaderError
		netErr      net.Error
		opErr       *net.OpError
		dnsErr      *net.DNSError
	)
	if errors.As(err, &verifyErr) {
		ce.Err = verifyErr
	}
	if errors.As(err, &opErr) {
		ce.Err = opErr
	}
	caSetting := "set the CA file (ssl.ca.location or ssl.truststore.location in the properties file, tls.ca_file in the spec) to the CA that signed the broker certificates"
	switch msg := err.Error(); {
	case errors.As(err, &unknownCA):
		ce.Kind, ce.Hint = ErrTLS, "the broker certificate is signed by an authority kmigrate does not trust: "+caSetting
	case errors.As(err, &hostErr):
		ce.Kind, ce.Hint = ErrTLS, "the broker certificate is not valid for the address used: connect with a name the certificate lists, or set tls.server_name (kmigrate.ssl.server.name) to one"
	case errors.As(err, &invalidCert):
		ce.Kind, ce.Hint = ErrTLS, "the broker certificate is invalid (expired, not yet valid, or not for server use): renew it or check the machine clock"
	case verifyErr != nil:
		ce.Kind, ce.Hint = ErrTLS, "the broker certificate failed verification: "+caSetting
	case errors.As(err, &recordErr):
		ce.Kind, ce.Err = ErrTLS, recordErr
		ce.Hint = "the listener does not speak TLS: use security.protocol PLAINTEXT or SASL_PLAINTEXT, or the cluster's TLS port"
	case strings.Contains(msg, "remote error: tls: "):
		// crypto/tls does not export its alert type for TCP
		// connections; the text is stable.
		ce.Kind, ce.Err = ErrTLS, errors.New(msg[strings.Index(msg, "remote error: tls: "):])
		if strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate authority") {
			ce.Hint = "the broker requires a valid client certificate (mutual TLS): set ssl.certificate.location and ssl.key.location (tls.cert_file and tls.key_file) to a certificate the broker trusts"
		} else {
			ce.Hint = "the broker refused the TLS handshake: check the TLS settings against the listener's"
		}
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		ce.Kind, ce.Hint = ErrAuth, authHint(c)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		ce.Kind = ErrAuth
		ce.Hint = fmt.Sprintf("the cluster does not enable SASL mechanism %s on this listener: use a mechanism it enables", c.SASL.Mechanism)
	case errors.Is(err, kerr.IllegalSaslState):
		ce.Kind = ErrAuth
		ce.Hint = "the broker did not expect SASL on this listener: use security.protocol PLAINTEXT or SSL, or the cluster's SASL port"
	case errors.As(err, &dnsErr):
		ce.Kind, ce.Hint = ErrUnreachable, "the host name does not resolve: check the bootstrap address"
	case errors.Is(err, syscall.ECONNREFUSED):
		ce.Kind, ce.Hint = ErrUnreachable, "nothing listens there: check the host and port and that the cluster is running"
	case errors.As(err, &netErr) && netErr.Timeout():
		ce.Kind, ce.Hint = ErrUnreachable, fmt.Sprintf("no answer within the connect timeout of %s: check the address, firewalls and that the cluster is running, or raise connect_timeout", c.Timeout())
	case opErr != nil && opErr.Op == "dial":
		ce.Kind, ce.Hint = ErrUnreachable, "check the address, firewalls and that the cluster is running"
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF):
		ce.Kind = ErrProtocol
		ce.Hint = protocolHint(c)
	default:
		return nil
	}
	return ce
}

// protocolHint explains an early close, which a broker does when the client
// speaks a different protocol than the listener (plain to TLS, no SASL to a
// SASL listener).
func protocolHint(c *config.Cluster) string {
	return fmt.Sprintf("the broker closed the connection; its listener probably expects a different security.protocol than %s (TLS or SASL): check the port and security.protocol", c.Protocol())
}
