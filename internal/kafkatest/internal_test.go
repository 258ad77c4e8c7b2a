package kafkatest

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
)

// These tests cover the pure translations behind the drivers, so that they
// run even where kcat and confluent-kafka-python are not installed.

func TestKcatRun(t *testing.T) {
	h := []Header{{Key: "a", Value: new("1")}, {Key: "n", Value: nil}}
	for _, tc := range []struct {
		name      string
		msgs      []Message
		wantN     int
		wantArgs  []string
		wantStdin string
	}{
		{
			name: "keys, null key, empty key, empty value",
			msgs: []Message{
				{Key: new("k"), Value: new("v")},
				{Key: nil, Value: new("no key")},
				{Key: new(""), Value: new("empty key")},
				{Key: new("k"), Value: new("")},
				{Key: new("k"), Value: nil}, // next run: needs -Z
			},
			wantN:     4,
			wantArgs:  nil,
			wantStdin: "k|v\nno key\n|empty key\nk|\n",
		},
		{
			name:      "null values use -Z",
			msgs:      []Message{{Key: new("k"), Value: nil}, {Key: nil, Value: nil}, {Key: new("k"), Value: new("v")}},
			wantN:     2,
			wantArgs:  []string{"-Z"},
			wantStdin: "k|\n|\n",
		},
		{
			name:      "headers end a run when they change",
			msgs:      []Message{{Key: new("k"), Value: new("v"), Headers: h}, {Key: new("k"), Value: new("w"), Headers: slices.Clone(h)}, {Key: new("k"), Value: new("x")}},
			wantN:     2,
			wantArgs:  []string{"-H", "a=1", "-H", "n"},
			wantStdin: "k|v\nk|w\n",
		},
		{
			name:      "a header value differing only in null",
			msgs:      []Message{{Value: new("v"), Headers: []Header{{Key: "h", Value: new("")}}}, {Value: new("w"), Headers: []Header{{Key: "h"}}}},
			wantN:     1,
			wantArgs:  []string{"-H", "h="},
			wantStdin: "v\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, args, stdin, err := kcatRun(tc.msgs, "|", 0)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantN || !slices.Equal(args, tc.wantArgs) || string(stdin) != tc.wantStdin {
				t.Errorf("kcatRun = %d, %q, %q; want %d, %q, %q", n, args, stdin, tc.wantN, tc.wantArgs, tc.wantStdin)
			}
		})
	}
}

func TestKcatRunRefuses(t *testing.T) {
	for _, tc := range []struct {
		msg  Message
		want string
	}{
		{Message{Key: new("k"), Value: new("a\nb")}, "message 7: a line break"},
		{Message{Key: new("a\nb"), Value: new("v")}, "message 7: a line break"},
		{Message{Key: nil, Value: new("")}, "message 7: null key with an empty value"},
		{Message{Key: new(""), Value: nil}, "message 7: empty key with a null value"},
		{Message{Value: new("v"), Headers: []Header{{Key: "x=y", Value: new("z")}}}, `header name "x=y" contains '='`},
	} {
		_, _, _, err := kcatRun([]Message{tc.msg}, "|", 7)
		if !errors.Is(err, ErrKcatCannotCarry) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("kcatRun(%+v) = %v, want ErrKcatCannotCarry with %q", tc.msg, err, tc.want)
		}
	}
}

func TestKcatDelimiter(t *testing.T) {
	for _, tc := range []struct {
		msgs []Message
		want string
	}{
		{[]Message{{Key: new("k"), Value: new("v")}}, "\t"},
		{[]Message{{Key: new("k"), Value: new("has\ttab")}}, "\x1f"},
		{[]Message{{Key: new("\t\x1f"), Value: new("\x1e")}}, "|~|"},
	} {
		got, err := kcatDelimiter(tc.msgs)
		if err != nil || got != tc.want {
			t.Errorf("kcatDelimiter(%+v) = %q, %v; want %q", tc.msgs, got, err, tc.want)
		}
	}
	if _, err := kcatDelimiter([]Message{{Key: new("\t\x1f\x1e|~|")}}); !errors.Is(err, ErrKcatCannotCarry) {
		t.Errorf("kcatDelimiter with every candidate taken: err = %v, want ErrKcatCannotCarry", err)
	}
}

func TestLibrdkafkaProps(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		c    config.Cluster
		want [][2]string
	}{
		{
			name: "plaintext",
			c:    config.Cluster{Role: "source", Bootstrap: []string{"a:9092", "b:9092"}, ClientID: "me"},
			want: [][2]string{
				{"bootstrap.servers", "a:9092,b:9092"},
				{"security.protocol", "plaintext"},
				{"socket.connection.setup.timeout.ms", "10000"},
				{"client.id", "me"},
			},
		},
		{
			name: "mutual TLS with SASL",
			c: config.Cluster{
				Role: "target", Bootstrap: []string{"a:9093"}, SecurityProtocol: config.SASLSSL,
				SASL: config.SASL{Mechanism: config.ScramSHA512, Username: "u", Password: "p"},
				TLS:  config.TLS{CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem"},
			},
			want: [][2]string{
				{"bootstrap.servers", "a:9093"},
				{"security.protocol", "sasl_ssl"},
				{"socket.connection.setup.timeout.ms", "10000"},
				{"ssl.ca.location", "/ca.pem"},
				{"ssl.certificate.location", "/c.pem"},
				{"ssl.key.location", "/k.pem"},
				{"sasl.mechanisms", "SCRAM-SHA-512"},
				{"sasl.username", "u"},
				{"sasl.password", "p"},
			},
		},
		{
			name: "inline PEM, key in the certificate file, no verification",
			c: config.Cluster{
				Role: "source", Bootstrap: []string{"a:9093"}, SecurityProtocol: config.SSL,
				TLS: config.TLS{CAPEM: "CA PEM", CertFile: "/both.pem", InsecureSkipVerify: true},
			},
			want: [][2]string{
				{"bootstrap.servers", "a:9093"},
				{"security.protocol", "ssl"},
				{"socket.connection.setup.timeout.ms", "10000"},
				{"ssl.ca.location", filepath.Join(dir, "ca.pem")},
				{"ssl.certificate.location", "/both.pem"},
				{"ssl.key.location", "/both.pem"},
				{"enable.ssl.certificate.verification", "false"},
				{"ssl.endpoint.identification.algorithm", "none"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := librdkafkaProps(&tc.c, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("librdkafkaProps =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}

	bad := config.Cluster{Role: "source", Bootstrap: []string{"a:9093"}, SecurityProtocol: config.SSL, TLS: config.TLS{ServerName: "broker"}}
	if _, err := librdkafkaProps(&bad, dir); err == nil || !strings.Contains(err.Error(), "librdkafka cannot verify brokers against another name") {
		t.Errorf("ServerName: err = %v, want a refusal", err)
	}
}
