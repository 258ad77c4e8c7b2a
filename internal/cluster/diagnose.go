package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
)

// diagnoseTimeout bounds the extra round trips diagnoseSASL makes.
const diagnoseTimeout = 5 * time.Second

// diagnoseSASL explains a connection that a SASL listener closed. Some
// brokers close the connection on bad credentials instead of answering
// SASL_AUTHENTICATION_FAILED, which looks like a protocol mismatch. Kafka
// answers ApiVersions and SaslHandshake before authentication, so a client
// with the same TLS settings but no credentials tells the cases apart: if
// those succeed, the listener and TLS are right and the credentials or the
// mechanism were refused. It returns nil when it learns nothing.
func diagnoseSASL(ctx context.Context, c *config.Cluster, logger *slog.Logger) *ConnectError {
	if !c.Protocol().UsesSASL() {
		return nil
	}
	plain := *c
	plain.SASL = config.SASL{}
	plain.SecurityProtocol = config.Plaintext
	if c.Protocol().UsesTLS() {
		plain.SecurityProtocol = config.SSL
	}
	cl, err := NewClient(&plain, logger, kgo.RequestRetries(0))
	if err != nil {
		return nil
	}
	defer cl.Close()
	tctx, cancel := context.WithTimeout(ctx, min(diagnoseTimeout, c.Timeout()))
	defer cancel()
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Mechanism = string(c.SASL.Mechanism)
	resp, err := req.RequestWith(tctx, cl)
	if err != nil || (resp.ErrorCode != 0 && resp.ErrorCode != kerr.UnsupportedSaslMechanism.Code) {
		return nil
	}
	ce := &ConnectError{Role: c.Role, Bootstrap: c.Bootstrap, Kind: ErrAuth}
	// Kafka lists its mechanisms in every answer; some brokers only when
	// refusing the one asked for, so trust the error code.
	if resp.ErrorCode == kerr.UnsupportedSaslMechanism.Code || (resp.ErrorCode == 0 && len(resp.SupportedMechanisms) > 0 && !slices.Contains(resp.SupportedMechanisms, req.Mechanism)) {
		ce.Hint = fmt.Sprintf("the cluster does not enable SASL mechanism %s on this listener (it offers %s): set sasl.mechanism to one of those", c.SASL.Mechanism, strings.Join(resp.SupportedMechanisms, ", "))
		return ce
	}
	ce.Err = fmt.Errorf("the broker closed the connection during %s authentication", c.SASL.Mechanism)
	ce.Hint = authHint(c)
	return ce
}

func authHint(c *config.Cluster) string {
	return fmt.Sprintf("the cluster rejected user %q with mechanism %s: check the username and password (sasl.username and sasl.password, or sasl.jaas.config) and that the user exists for that mechanism", c.SASL.Username, c.SASL.Mechanism)
}

// diagnoseTLSSilence explains a TLS connection that timed out. A TLS
// client talking to a plaintext Kafka listener sends a ClientHello that the
// broker reads as the start of a very large request and waits for the rest,
// so the handshake hangs until the timeout, which looks like an unreachable
// cluster. If a plain TCP connection to the same address succeeds at once,
// the address is reachable and the handshake is what got no answer.
func diagnoseTLSSilence(ctx context.Context, c *config.Cluster) *ConnectError {
	if !c.Protocol().UsesTLS() {
		return nil
	}
	d := net.Dialer{Timeout: min(diagnoseTimeout, c.Timeout())}
	for _, addr := range c.Bootstrap {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			continue
		}
		conn.Close()
		return &ConnectError{Role: c.Role, Bootstrap: c.Bootstrap, Kind: ErrTLS,
			Err:  fmt.Errorf("%s accepts connections but did not answer the TLS handshake within %s", addr, c.Timeout()),
			Hint: "the listener probably does not speak TLS: use security.protocol PLAINTEXT or SASL_PLAINTEXT, or the cluster's TLS port"}
	}
	return nil
}
