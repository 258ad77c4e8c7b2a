package users

import (
	"fmt"
	"io"
	"regexp"
	"strings"
)

// shellSafe matches user names that need no quoting in the script.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9._@-]+$`)

var notAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

// envName is the environment variable the script reads a user's password
// from: KMIGRATE_PW_ and the name with every other character as '_'.
func envName(user string) string {
	return "KMIGRATE_PW_" + notAlnum.ReplaceAllString(user, "_")
}

// WriteScript writes a POSIX shell script that creates p.Missing with
// Kafka's kafka-configs.sh, for users who keep passwords in their own
// tooling: each password comes from an environment variable the script
// names and checks, so the script holds no secret. bootstrap is the
// target's bootstrap servers; the script passes "$@" on to every call (a
// --command-config for the target's security, say).
func WriteScript(w io.Writer, p *Plan, bootstrap string) error {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Creates the SCRAM users the target lacks (kmigrate access users-script).\n")
	b.WriteString("# Set each password variable, then run: sh this-script --command-config target.properties\nset -eu\n")
	for _, c := range p.Missing {
		if !shellSafe.MatchString(c.User) {
			fmt.Fprintf(&b, "# skipped user %q: its name needs quoting; create it by hand\n", c.User)
			continue
		}
		v := envName(c.User)
		fmt.Fprintf(&b, ": \"${%s:?set the password of %s}\"\n", v, c.User)
		fmt.Fprintf(&b, "kafka-configs.sh --bootstrap-server '%s' --alter --entity-type users --entity-name '%s' \\\n  --add-config \"%s=[iterations=%d,password=${%s}]\" \"$@\"\n",
			bootstrap, c.User, c.Mechanism, c.Iterations, v)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
