package gateway

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client authentication is the gateway's own, independent of the
// credentials it uses upstream: TLS on the listener (Options.TLS) and
// SASL/PLAIN against Options.Users. Before a connection has
// authenticated, only ApiVersions, SaslHandshake and SaslAuthenticate are
// answered; anything else closes it, as a broker does.

// ErrUnauthenticated is why a connection that sent another request before
// authenticating is closed.
var ErrUnauthenticated = errors.New("request before SASL authentication")

// errAuthFailed closes a connection after its failed SaslAuthenticate
// answer.
var errAuthFailed = errors.New("SASL authentication failed")

const mechanismPlain = "PLAIN"

// connState is what the gateway knows of one client connection.
type connState struct {
	mechanism string // from SaslHandshake
	authed    bool
	user      string
	closeNext error // set: close the connection after this response
}

// preAuth reports whether key may be sent before authenticating.
func preAuth(key int16) bool {
	return key == kmsg.ApiVersions.Int16() || key == kmsg.SASLHandshake.Int16() || key == kmsg.SASLAuthenticate.Int16()
}

func (s *Server) saslHandshake(cs *connState, req *kmsg.SASLHandshakeRequest) *kmsg.SASLHandshakeResponse {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	if s.opts.Users != nil {
		resp.SupportedMechanisms = []string{mechanismPlain}
	}
	if s.opts.Users == nil || req.Mechanism != mechanismPlain {
		s.log.Warn("refused a SASL mechanism", "mechanism", req.Mechanism, "enabled", resp.SupportedMechanisms)
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return resp
	}
	cs.mechanism = req.Mechanism
	return resp
}

func (s *Server) saslAuthenticate(cs *connState, req *kmsg.SASLAuthenticateRequest) *kmsg.SASLAuthenticateResponse {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	user, err := s.checkPlain(cs, req.SASLAuthBytes)
	if err != nil {
		s.log.Warn("client authentication failed", "user", user, "err", err)
		msg := err.Error()
		resp.ErrorCode, resp.ErrorMessage = kerr.SaslAuthenticationFailed.Code, &msg
		cs.closeNext = fmt.Errorf("%w: %w", errAuthFailed, err)
		return resp
	}
	cs.authed, cs.user = true, user
	return resp
}

// checkPlain checks a SASL/PLAIN message: [authzid] NUL user NUL password.
func (s *Server) checkPlain(cs *connState, msg []byte) (string, error) {
	if cs.mechanism != mechanismPlain {
		return "", errors.New("no SASL handshake for PLAIN before authenticating")
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", errors.New("malformed PLAIN message")
	}
	user, pass := string(parts[1]), parts[2]
	want, ok := s.opts.Users[user]
	// Compare even for an unknown user, so timing does not tell.
	match := subtle.ConstantTimeCompare(pass, []byte(want.Reveal())) == 1
	if !ok || !match || (len(parts[0]) > 0 && string(parts[0]) != user) {
		return user, fmt.Errorf("invalid credentials for user %q", user)
	}
	return user, nil
}
