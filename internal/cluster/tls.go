package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/kmigrate/kmigrate/internal/config"
)

// tlsConfig builds the TLS client configuration for c, reading the CA,
// certificate and key files it names. Errors name the setting and the file.
func tlsConfig(c *config.Cluster) (*tls.Config, error) {
	t := c.TLS
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the user asked for it; New logs a loud warning
	}
	caPEM, caSrc, err := material(t.CAFile, t.CAPEM, "CA file", "ssl.ca.location / tls.ca_file")
	if err != nil {
		return nil, err
	}
	if caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("%s %s holds no PEM certificate: it must contain at least one \"-----BEGIN CERTIFICATE-----\" block", "CA file", caSrc)
		}
		tc.RootCAs = pool
	}
	certPEM, certSrc, err := material(t.CertFile, t.CertPEM, "client certificate", "ssl.certificate.location / tls.cert_file")
	if err != nil {
		return nil, err
	}
	keyPEM, keySrc, err := material(t.KeyFile, t.KeyPEM.Reveal(), "client key", "ssl.key.location / tls.key_file")
	if err != nil {
		return nil, err
	}
	if certPEM != nil {
		if keyPEM == nil {
			// A Java PEM keystore holds the key and the chain in one file.
			keyPEM, keySrc = certPEM, certSrc
		}
		if isEncryptedKey(keyPEM) {
			return nil, fmt.Errorf("client key %s is encrypted; kmigrate needs an unencrypted PKCS#8 or PKCS#1 key: decrypt it with `openssl pkey -in KEY -out key.pem` and keep that file private", keySrc)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s and key %s do not form a pair: %w", certSrc, keySrc, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// material returns PEM bytes from a file or an inline value, with a
// description of where they came from for messages. Inline values are never
// quoted in errors: they may be keys.
func material(file, inline, what, setting string) ([]byte, string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("read %s %q (%s): %w", what, file, setting, err)
		}
		return b, fmt.Sprintf("%q", file), nil
	}
	if inline != "" {
		return []byte(inline), "(inline PEM)", nil
	}
	return nil, "", nil
}

func isEncryptedKey(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == "ENCRYPTED PRIVATE KEY" || (strings.HasSuffix(blk.Type, "PRIVATE KEY") && blk.Headers["Proc-Type"] != "") {
			return true
		}
	}
}
