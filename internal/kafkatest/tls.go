package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles names the PEM files GenerateTLS writes. The client side of a
// connection needs CAFile (and CertFile/KeyFile for mutual TLS); the broker
// side needs ServerCertFile/ServerKeyFile and, to verify clients, CAFile.
type TLSFiles struct {
	// CAFile is the certificate authority that signed the server and client
	// certificates.
	CAFile string
	// CertFile and KeyFile are the client certificate and its key, for
	// mutual TLS.
	CertFile string
	KeyFile  string
	// ServerCertFile and ServerKeyFile are the broker certificate (valid
	// for 127.0.0.1, ::1 and localhost) and its key.
	ServerCertFile string
	ServerKeyFile  string
	// OtherCAFile is a second, unrelated certificate authority: a client
	// that trusts only it must fail with an unknown-authority error.
	OtherCAFile string
}

// certValidity is how long generated certificates stay valid. Tests create
// fresh ones each run; a year leaves room for a sandbox that keeps its files.
const certValidity = 365 * 24 * time.Hour

// GenerateTLS creates a CA, a server certificate for the loopback addresses,
// a client certificate and an unrelated second CA, and writes them as PEM
// files into dir (which must exist). Keys are unencrypted PKCS#8 ECDSA P-256,
// which Go, OpenSSL (librdkafka) and Java all read.
func GenerateTLS(dir string) (TLSFiles, error) {
	files := TLSFiles{
		CAFile:         filepath.Join(dir, "ca.pem"),
		CertFile:       filepath.Join(dir, "client.pem"),
		KeyFile:        filepath.Join(dir, "client-key.pem"),
		ServerCertFile: filepath.Join(dir, "server.pem"),
		ServerKeyFile:  filepath.Join(dir, "server-key.pem"),
		OtherCAFile:    filepath.Join(dir, "other-ca.pem"),
	}
	now := time.Now().Add(-time.Hour) // tolerate clock skew between processes
	ca, err := newCA("kmigrate test CA", now)
	if err != nil {
		return TLSFiles{}, err
	}
	other, err := newCA("kmigrate unrelated test CA", now)
	if err != nil {
		return TLSFiles{}, err
	}
	server, err := ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, now)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("server certificate: %w", err)
	}
	client, err := ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kmigrate-test-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, now)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("client certificate: %w", err)
	}
	writes := []struct {
		path string
		pem  []byte
	}{
		{files.CAFile, ca.certPEM},
		{files.OtherCAFile, other.certPEM},
		{files.ServerCertFile, server.certPEM},
		{files.ServerKeyFile, server.keyPEM},
		{files.CertFile, client.certPEM},
		{files.KeyFile, client.keyPEM},
	}
	for _, w := range writes {
		if err := os.WriteFile(w.path, w.pem, 0o600); err != nil {
			return TLSFiles{}, fmt.Errorf("write %s: %w", w.path, err)
		}
	}
	return files, nil
}

// ServerConfig returns a broker-side TLS configuration serving the server
// certificate. With requireClientCert the broker demands a client
// certificate signed by the CA (tls.RequireAndVerifyClientCert), which is
// what "ssl.client.auth=required" means on a Kafka broker.
func (f TLSFiles) ServerConfig(requireClientCert bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.ServerCertFile, f.ServerKeyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if requireClientCert {
		caPEM, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("CA file %s holds no certificate", f.CAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// keyPair is a certificate with its key, parsed and as PEM.
type keyPair struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

func newCA(name string, notBefore time.Time) (*keyPair, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	kp, err := sign(tmpl, nil, notBefore)
	if err != nil {
		return nil, fmt.Errorf("CA %q: %w", name, err)
	}
	return kp, nil
}

func (ca *keyPair) issue(tmpl *x509.Certificate, notBefore time.Time) (*keyPair, error) {
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	return sign(tmpl, ca, notBefore)
}

// sign fills in the serial number and validity of tmpl, generates its key
// and signs it with parent (self-signed when parent is nil).
func sign(tmpl *x509.Certificate, parent *keyPair, notBefore time.Time) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = notBefore
	tmpl.NotAfter = notBefore.Add(certValidity)
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if certPEM == nil || keyPEM == nil {
		return nil, errors.New("encode PEM")
	}
	return &keyPair{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}
