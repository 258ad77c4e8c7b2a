package gateway

import (
	"errors"
	"maps"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
)

func TestParseUsers(t *testing.T) {
	got, err := parseUsers("u", []byte("# apps\napp:s3cret\n\n  ops:a:b  \n"))
	want := map[string]config.Secret{"app": "s3cret", "ops": "a:b"}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("parseUsers: %v %v, want %v", got, err, want)
	}
	for _, bad := range []string{"", "# none\n", "app\n", ":x\n", "app:\n", "a:1\na:2\n"} {
		if _, err := parseUsers("u", []byte(bad)); !errors.Is(err, ErrUsersFile) {
			t.Errorf("parseUsers(%q): %v, want ErrUsersFile", bad, err)
		}
	}
}
