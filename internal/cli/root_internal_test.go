package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/mirror"
)

// TestExitCodes: usage errors are known by type. A command's own error
// whose text happens to read like one of cobra's (a stopped partition
// "larger than target topic X accepts") is an error, exit 1, not usage.
func TestExitCodes(t *testing.T) {
	stopped := fmt.Errorf("%w: orders/0 offset 7: record of 2000 bytes is larger than target topic orders accepts (max.message.bytes 1000)", mirror.ErrPartitionsStopped)
	if got := exitCode(stopped); got != exitError {
		t.Errorf("stopped partition: exit %d, want %d", got, exitError)
	}
	if got := exitCode(fmt.Errorf("load: %w", usageError{errors.New("bad spec")})); got != exitUsage {
		t.Errorf("wrapped usage error: exit %d, want %d", got, exitUsage)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"nonsense"}, exitUsage, `unknown command "nonsense" for "kmigrate"`},
		{[]string{"check", "--nope"}, exitUsage, "unknown flag: --nope"},
		{[]string{"check", "extra"}, exitUsage, `unknown command "extra" for "kmigrate check"`},
		{[]string{"groups", "migrate", "--wait"}, exitUsage, "flag needs an argument: --wait"},
		{[]string{"check", "--connect-timeout", "soon"}, exitUsage, `invalid argument "soon" for "--connect-timeout"`},
		{[]string{"version"}, exitOK, ""},
	} {
		var stdout, stderr bytes.Buffer
		got := Main(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
		if got != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("kmigrate %v: exit %d, stderr %q; want exit %d with %q", tc.args, got, stderr.String(), tc.code, tc.msg)
		}
	}
}

// TestConnectTimeoutRefused: every command that reaches the clusters
// refuses a --connect-timeout that is not positive, before connecting.
func TestConnectTimeoutRefused(t *testing.T) {
	for _, args := range [][]string{
		{"check"}, {"mirror"}, {"plan"}, {"verify"}, {"status"}, {"promote"}, {"groups", "list"}, {"groups", "migrate", "--all"},
	} {
		for _, d := range []string{"-1s", "0s"} {
			var stdout, stderr bytes.Buffer
			a := append(append([]string{}, args...), "--source", "127.0.0.1:1", "--target", "127.0.0.1:2", "--connect-timeout", d)
			got := Main(context.Background(), a, strings.NewReader(""), &stdout, &stderr)
			want := "--connect-timeout: " + d + " is not positive: use a duration such as 30s, or leave it out for the default (10s)"
			if got != exitUsage || !strings.Contains(stderr.String(), want) {
				t.Errorf("kmigrate %v: exit %d, stderr %q; want exit 2 with %q", a, got, stderr.String(), want)
			}
		}
	}
}
