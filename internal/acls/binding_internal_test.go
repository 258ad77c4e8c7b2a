package acls

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestCodeErr(t *testing.T) {
	if err := codeErr(0, kmsg.StringPtr("ignored")); err != nil {
		t.Errorf("code 0: %v", err)
	}
	err := codeErr(kerr.SecurityDisabled.Code, kmsg.StringPtr("No Authorizer is configured."))
	if !errors.Is(err, ErrNoAuthorizer) || !errors.Is(err, kerr.SecurityDisabled) {
		t.Errorf("SECURITY_DISABLED: %v: want ErrNoAuthorizer and kerr.SecurityDisabled", err)
	}
	if got, want := err.Error(), "the cluster has no authorizer: SECURITY_DISABLED: No Authorizer is configured."; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if got, want := codeErr(kerr.ClusterAuthorizationFailed.Code, nil).Error(), kerr.ClusterAuthorizationFailed.Error(); got != want {
		t.Errorf("without a message: %q, want %q", got, want)
	}
}
