package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// LookupEnv looks up an environment variable; os.LookupEnv fits. It is
// injected, rather than read from the process, so that tests and embedding
// programs decide what a spec can see.
type LookupEnv func(name string) (value string, ok bool)

// orOS returns env, or os.LookupEnv when env is nil.
func (env LookupEnv) orOS() LookupEnv {
	if env == nil {
		return os.LookupEnv
	}
	return env
}

// expandEnv replaces each ${NAME} in s with the value of the variable NAME.
//
// The rules are chosen so that values which are not templates pass through
// unchanged: a "$" not followed by "{" is literal (so the regular expression
// "orders$" works), and "$${" is a literal "${". NAME is a shell-style
// identifier, [A-Za-z_][A-Za-z0-9_]*. ${env:NAME}, the spelling of Kafka's
// EnvVarConfigProvider, means the same as ${NAME}, so Java client files
// that use it work unchanged.
//
// Errors name the variable but never quote s: s may be a password.
func expandEnv(s string, env LookupEnv) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", errors.New("unterminated ${: close it with } or write $${ for a literal ${")
		}
		name := strings.TrimPrefix(s[i+2:i+2+end], "env:")
		if !isEnvName(name) {
			// The "name" may be part of a secret that happens to contain
			// "${", so it is not quoted.
			return "", errors.New("${...} does not hold a variable name ([A-Za-z_][A-Za-z0-9_]*): write $${ for a literal ${")
		}
		v, ok := env(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(v)
		i += 2 + end + 1
	}
	return b.String(), nil
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
