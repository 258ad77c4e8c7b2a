package users_test

import (
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/users"
)

func TestWriteScript(t *testing.T) {
	p := &users.Plan{Missing: []users.Credential{
		{User: "app", Mechanism: "SCRAM-SHA-512", Iterations: 8192},
		{User: "new-app.v2", Mechanism: "SCRAM-SHA-256", Iterations: 4096},
		{User: "it's", Mechanism: "SCRAM-SHA-256", Iterations: 4096},
	}}
	var b strings.Builder
	if err := users.WriteScript(&b, p, "new:9092"); err != nil {
		t.Fatal(err)
	}
	want := `#!/bin/sh
# Creates the SCRAM users the target lacks (kmigrate access users-script).
# Set each password variable, then run: sh this-script --command-config target.properties
set -eu
: "${KMIGRATE_PW_app:?set the password of app}"
kafka-configs.sh --bootstrap-server 'new:9092' --alter --entity-type users --entity-name 'app' \
  --add-config "SCRAM-SHA-512=[iterations=8192,password=${KMIGRATE_PW_app}]" "$@"
: "${KMIGRATE_PW_new_app_v2:?set the password of new-app.v2}"
kafka-configs.sh --bootstrap-server 'new:9092' --alter --entity-type users --entity-name 'new-app.v2' \
  --add-config "SCRAM-SHA-256=[iterations=4096,password=${KMIGRATE_PW_new_app_v2}]" "$@"
# skipped user "it's": its name needs quoting; create it by hand
`
	if got := b.String(); got != want {
		t.Errorf("script:\n%s\nwant:\n%s", got, want)
	}
}
