package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// SecurityProtocol is Kafka's security.protocol: how bytes travel (plain or
// TLS) and whether the client authenticates with SASL.
type SecurityProtocol string

// The security protocols Kafka defines; kmigrate supports all four.
const (
	Plaintext     SecurityProtocol = "PLAINTEXT"
	SSL           SecurityProtocol = "SSL"
	SASLPlaintext SecurityProtocol = "SASL_PLAINTEXT"
	SASLSSL       SecurityProtocol = "SASL_SSL"
)

// securityProtocols lists the supported protocols, for messages.
var securityProtocols = []SecurityProtocol{Plaintext, SSL, SASLPlaintext, SASLSSL}

// ParseSecurityProtocol parses a security.protocol value, case-insensitively
// as Kafka's clients do.
func ParseSecurityProtocol(s string) (SecurityProtocol, error) {
	for _, p := range securityProtocols {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown security.protocol %q: use one of %s", s, joinNames(securityProtocols))
}

// UsesTLS reports whether the protocol encrypts with TLS.
func (p SecurityProtocol) UsesTLS() bool { return p == SSL || p == SASLSSL }

// UsesSASL reports whether the protocol authenticates with SASL.
func (p SecurityProtocol) UsesSASL() bool { return p == SASLPlaintext || p == SASLSSL }

// Mechanism is a SASL mechanism.
type Mechanism string

// The SASL mechanisms kmigrate supports.
const (
	Plain       Mechanism = "PLAIN"
	ScramSHA256 Mechanism = "SCRAM-SHA-256"
	ScramSHA512 Mechanism = "SCRAM-SHA-512"
)

var mechanisms = []Mechanism{Plain, ScramSHA256, ScramSHA512}

// ParseMechanism parses a SASL mechanism name. Mechanisms Kafka knows but
// kmigrate does not support (GSSAPI, OAUTHBEARER, AWS_MSK_IAM) get an error
// that names the supported ones.
func ParseMechanism(s string) (Mechanism, error) {
	for _, m := range mechanisms {
		if strings.EqualFold(s, string(m)) {
			return m, nil
		}
	}
	return "", fmt.Errorf("unsupported SASL mechanism %q: kmigrate supports %s", s, joinNames(mechanisms))
}

// DefaultConnectTimeout bounds how long connecting to a cluster may take
// before kmigrate reports it unreachable.
const DefaultConnectTimeout = 10 * time.Second

// Cluster is everything needed to connect to one cluster. It is plain data:
// files are named, not read, here; internal/cluster turns it into a client.
type Cluster struct {
	// Role is "source" or "target"; it prefixes messages about this cluster.
	Role string `json:"role"`
	// Bootstrap lists the host:port seed brokers.
	Bootstrap []string `json:"bootstrap"`
	// SecurityProtocol is PLAINTEXT when empty.
	SecurityProtocol SecurityProtocol `json:"security_protocol,omitempty"`
	// SASL holds the credentials for SASL_PLAINTEXT and SASL_SSL.
	SASL SASL `json:"sasl,omitzero"`
	// TLS holds the certificates for SSL and SASL_SSL.
	TLS TLS `json:"tls,omitzero"`
	// ClientID is sent to the brokers; "kmigrate" when empty.
	ClientID string `json:"client_id,omitempty"`
	// ConnectTimeout bounds connection attempts; DefaultConnectTimeout when
	// zero.
	ConnectTimeout time.Duration `json:"connect_timeout,omitempty"`
	// PropertiesFile is the client properties file the settings came from,
	// if any, so that messages can point at it.
	PropertiesFile string `json:"properties_file,omitempty"`
}

// SASL is a SASL mechanism with its credentials.
type SASL struct {
	Mechanism Mechanism `json:"mechanism,omitempty"`
	Username  string    `json:"username,omitempty"`
	Password  Secret    `json:"password,omitempty"`
}

// TLS names the certificate material for a TLS connection. Certificates come
// either from files (the *File fields) or inline PEM (the *PEM fields, from
// Java's ssl.truststore.certificates and friends); a file wins when both are
// set.
type TLS struct {
	// CAFile is a PEM bundle of the certificate authorities to trust. Empty
	// means the system roots.
	CAFile string `json:"ca_file,omitempty"`
	// CertFile and KeyFile are the client certificate and key for mutual
	// TLS. KeyFile may be empty when CertFile holds both.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// CAPEM, CertPEM and KeyPEM are inline PEM alternatives to the files.
	CAPEM   string `json:"ca_pem,omitempty"`
	CertPEM string `json:"cert_pem,omitempty"`
	KeyPEM  Secret `json:"key_pem,omitempty"`
	// ServerName overrides the name the broker certificates are verified
	// against (and sent as SNI).
	ServerName string `json:"server_name,omitempty"`
	// InsecureSkipVerify disables certificate verification. It exists for
	// test clusters; kmigrate logs a loud warning when it is on.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// Protocol returns the effective security protocol.
func (c *Cluster) Protocol() SecurityProtocol {
	if c.SecurityProtocol == "" {
		return Plaintext
	}
	return c.SecurityProtocol
}

// CheckConnectTimeout refuses a connect timeout that is not positive: a
// zero or negative bound would give up before the first connection attempt
// (or, taken as "unset", silently mean the default), so a given timeout
// must be more than 0.
func CheckConnectTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%v is not positive: use a duration such as 30s, or leave it out for the default (%v)", d, DefaultConnectTimeout)
	}
	return nil
}

// Timeout returns the effective connect timeout.
func (c *Cluster) Timeout() time.Duration {
	if c.ConnectTimeout <= 0 {
		return DefaultConnectTimeout
	}
	return c.ConnectTimeout
}

// hasTLSMaterial reports whether any TLS setting was given.
func (t *TLS) hasTLSMaterial() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.CAPEM != "" ||
		t.CertPEM != "" || t.KeyPEM != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// Validate checks the settings that can be checked without touching files
// or the network. Each error names the setting and how to fix it.
func (c *Cluster) Validate() error {
	role := c.Role
	if role == "" {
		role = "cluster"
	}
	var errs []error
	if len(c.Bootstrap) == 0 {
		errs = append(errs, fmt.Errorf("%s: no bootstrap servers: set --%s HOST:PORT, bootstrap.servers in the properties file, or %s.bootstrap in the spec", role, role, role))
	}
	for _, b := range c.Bootstrap {
		if err := checkHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("%s: bootstrap server %q: %w", role, b, err))
		}
	}
	p := c.Protocol()
	if _, err := ParseSecurityProtocol(string(p)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", role, err))
	}
	if p.UsesSASL() {
		switch {
		case c.SASL.Mechanism == "":
			errs = append(errs, fmt.Errorf("%s: security.protocol %s needs a SASL mechanism: set sasl.mechanism to one of %s", role, p, joinNames(mechanisms)))
		default:
			if _, err := ParseMechanism(string(c.SASL.Mechanism)); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", role, err))
			}
		}
		if c.SASL.Username == "" || !c.SASL.Password.IsSet() {
			errs = append(errs, fmt.Errorf("%s: security.protocol %s needs SASL credentials: set sasl.username and sasl.password (or sasl.jaas.config)", role, p))
		}
	} else if c.SASL.Mechanism != "" || c.SASL.Username != "" || c.SASL.Password.IsSet() {
		errs = append(errs, fmt.Errorf("%s: SASL settings are given but security.protocol is %s: use %s or %s, or remove the SASL settings", role, p, SASLPlaintext, SASLSSL))
	}
	if !p.UsesTLS() && c.TLS.hasTLSMaterial() {
		errs = append(errs, fmt.Errorf("%s: TLS settings are given but security.protocol is %s: use %s or %s, or remove the TLS settings", role, p, SSL, SASLSSL))
	}
	if c.TLS.KeyFile != "" && c.TLS.CertFile == "" {
		errs = append(errs, fmt.Errorf("%s: a TLS client key is given without a client certificate: set ssl.certificate.location (tls.cert_file) too", role))
	}
	return errors.Join(errs...)
}

// checkHostPort accepts host:port with a non-empty host and a port in
// 1..65535. IPv6 hosts are bracketed, as in "[::1]:9092".
func checkHostPort(s string) error {
	if strings.Contains(s, "://") {
		return errors.New("want HOST:PORT without a scheme: remove the prefix and set security.protocol instead")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || port == "" {
		return errors.New("want HOST:PORT")
	}
	if strings.ContainsAny(host, " \t,;") {
		return errors.New("want one HOST:PORT per entry: separate servers with commas")
	}
	n := 0
	for _, r := range port {
		if r < '0' || r > '9' {
			return fmt.Errorf("port %q is not a number", port)
		}
		n = n*10 + int(r-'0')
		if n > 65535 {
			break
		}
	}
	if n < 1 || n > 65535 {
		return fmt.Errorf("port %q is out of range 1-65535", port)
	}
	return nil
}

// joinNames lists names for a message: "A, B, C".
func joinNames[T ~string](vs []T) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(v))
	}
	return b.String()
}
