package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kmigrate/kmigrate/internal/config"
)

// ServerTLS returns the listener's TLS configuration from PEM files: the
// gateway's certificate and key and, for mutual TLS, the CA that signs
// client certificates (empty: no client certificate asked).
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("gateway: listener certificate: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCAFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("gateway: client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("gateway: client CA %s holds no certificate", clientCAFile)
	}
	tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	return tc, nil
}

// ErrUsersFile is a malformed users file.
var ErrUsersFile = errors.New("malformed users file")

// LoadUsers reads the SASL/PLAIN users of the listener: one "user:password"
// per line; empty lines and lines starting with # are skipped.
func LoadUsers(path string) (map[string]config.Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway: users: %w", err)
	}
	return parseUsers(path, b)
}

func parseUsers(path string, b []byte) (map[string]config.Secret, error) {
	users := map[string]config.Secret{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok || user == "" || pass == "" {
			return nil, fmt.Errorf("%w: %s line %d: want user:password", ErrUsersFile, path, n)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("%w: %s line %d: user %q listed twice", ErrUsersFile, path, n, user)
		}
		users[user] = config.Secret(pass)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%w: %s lists no user", ErrUsersFile, path)
	}
	return users, nil
}
