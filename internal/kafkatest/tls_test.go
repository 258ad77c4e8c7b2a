package kafkatest_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

func TestGenerateTLS(t *testing.T) {
	dir := t.TempDir()
	files, err := kafkatest.GenerateTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := kafkatest.TLSFiles{
		CAFile:         filepath.Join(dir, "ca.pem"),
		CertFile:       filepath.Join(dir, "client.pem"),
		KeyFile:        filepath.Join(dir, "client-key.pem"),
		ServerCertFile: filepath.Join(dir, "server.pem"),
		ServerKeyFile:  filepath.Join(dir, "server-key.pem"),
		OtherCAFile:    filepath.Join(dir, "other-ca.pem"),
	}
	if files != want {
		t.Fatalf("GenerateTLS = %+v, want %+v", files, want)
	}
	for _, f := range []string{files.KeyFile, files.ServerKeyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600: it is a private key", f, fi.Mode().Perm())
		}
	}

	ca, other := pool(t, files.CAFile), pool(t, files.OtherCAFile)
	server, client := cert(t, files.ServerCertFile), cert(t, files.CertFile)
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		_, err := server.Verify(x509.VerifyOptions{DNSName: name, Roots: ca})
		if err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: ca}); err == nil {
		t.Error("server certificate verifies for example.com")
	}
	if _, err := server.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: other}); !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Errorf("server certificate against the other CA: err = %v, want x509.UnknownAuthorityError", err)
	}
	clientUsage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if _, err := client.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: clientUsage}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: clientUsage}); err == nil {
		t.Error("the server certificate verifies as a client certificate")
	}
	if _, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile); err != nil {
		t.Errorf("client key pair: %v", err)
	}

	for _, require := range []bool{false, true} {
		tc, err := files.ServerConfig(require)
		if err != nil {
			t.Fatalf("ServerConfig(%v): %v", require, err)
		}
		wantAuth := tls.NoClientCert
		if require {
			wantAuth = tls.RequireAndVerifyClientCert
		}
		if tc.ClientAuth != wantAuth || len(tc.Certificates) != 1 || (tc.ClientCAs != nil) != require {
			t.Errorf("ServerConfig(%v): ClientAuth %v, %d certificates, client CAs set %v", require, tc.ClientAuth, len(tc.Certificates), tc.ClientCAs != nil)
		}
	}

	if _, err := kafkatest.GenerateTLS(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("GenerateTLS into a missing directory: err = %v, want os.ErrNotExist", err)
	}
}

func pool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	p.AddCert(cert(t, file))
	return p
}

func cert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("%s: want exactly one CERTIFICATE block", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}
