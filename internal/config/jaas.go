package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// JAAS is one login module entry of a Java sasl.jaas.config value:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="...";
//
// Options are Secrets because one of them is the password; Reveal the
// values you need.
type JAAS struct {
	// Module is the login module class, e.g.
	// org.apache.kafka.common.security.scram.ScramLoginModule.
	Module string
	// Flag is the control flag, lower-cased: required, requisite,
	// sufficient or optional. Kafka accepts all four and so do we; with a
	// single module they mean the same.
	Flag string
	// Options maps option names to their values.
	Options map[string]Secret
}

// The login modules kmigrate understands, and the mechanisms each serves.
const (
	plainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
	scramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
)

// knownJAASOptions are option names that errors may quote. Any other name
// is left out of messages: when a password holds an unescaped quote, its
// tail parses as an option name, and quoting that would leak the password.
var knownJAASOptions = map[string]bool{
	"username": true, "password": true, "tokenauth": true,
	"serviceName": true, "useKeyTab": true, "keyTab": true, "storeKey": true,
	"principal": true, "useTicketCache": true, "debug": true,
	"unsecuredLoginStringClaim_sub": true, "clientId": true, "clientSecret": true,
	"scope": true,
}

// ParseJAAS parses a sasl.jaas.config value with the grammar of Kafka's
// JaasConfig:
//
//	ModuleClass flag (name=value)* ;
//
// Values are bare words or quoted with " or ', with backslash escapes in
// quotes; "/" starts a comment ("//", "/* */" or to the end of the line) as
// it does in Java. Exactly one login module is accepted, as in Kafka.
//
// Errors describe the position, never the text around it: that text may be
// the password.
func ParseJAAS(s string) (JAAS, error) {
	t := jaasTokenizer{s: s}
	var j JAAS
	tok, err := t.next()
	if err != nil {
		return JAAS{}, err
	}
	if tok.kind == tokEOF {
		return JAAS{}, errors.New("no login module: want \"LoginModuleClass required username=... password=...;\"")
	}
	if tok.kind != tokWord {
		return JAAS{}, errors.New("want a login module class name first")
	}
	j.Module = tok.text
	tok, err = t.next()
	if err != nil {
		return JAAS{}, err
	}
	if tok.kind != tokWord {
		return JAAS{}, fmt.Errorf("login module %s has no control flag: want required, requisite, sufficient or optional after it", j.Module)
	}
	switch f := strings.ToLower(tok.text); f {
	case "required", "requisite", "sufficient", "optional":
		j.Flag = f
	default:
		// The flag is not quoted: when it is missing, the next word may
		// be a secret.
		return JAAS{}, fmt.Errorf("login module %s: invalid control flag: want required, requisite, sufficient or optional after the class name", j.Module)
	}
	j.Options = map[string]Secret{}
	for n := 1; ; n++ {
		tok, err = t.next()
		if err != nil {
			return JAAS{}, err
		}
		if tok.kind == tokSemi {
			break
		}
		if tok.kind == tokEOF {
			return JAAS{}, errors.New("the login module entry does not end with \";\"")
		}
		if tok.kind != tokWord && tok.kind != tokQuoted {
			return JAAS{}, fmt.Errorf("option %d: want name=value", n)
		}
		name := tok.text
		eq, err := t.next()
		if err != nil {
			return JAAS{}, err
		}
		val, err := t.next()
		if err != nil {
			return JAAS{}, err
		}
		if eq.kind != tokEquals || (val.kind != tokWord && val.kind != tokQuoted) {
			return JAAS{}, fmt.Errorf("%s has no value: want name=value", optionName(name, n))
		}
		if _, dup := j.Options[name]; dup {
			return JAAS{}, fmt.Errorf("%s is given twice", optionName(name, n))
		}
		j.Options[name] = Secret(val.text)
	}
	tok, err = t.next()
	if err != nil {
		return JAAS{}, err
	}
	if tok.kind != tokEOF {
		return JAAS{}, errors.New("more than one login module: Kafka clients accept exactly one")
	}
	return j, nil
}

// optionName names the n-th option for a message, quoting its name only
// when it is a well-known one.
func optionName(name string, n int) string {
	if knownJAASOptions[name] {
		return fmt.Sprintf("option %q", name)
	}
	return fmt.Sprintf("option %d (its name is not shown in case it is part of a secret: check the quoting)", n)
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuoted
	tokEquals
	tokSemi
)

type jaasToken struct {
	kind tokKind
	text string
}

// jaasTokenizer splits a JAAS configuration the way Java's StreamTokenizer
// does in Kafka's JaasConfig: bytes up to ' ' are whitespace; '=' and ';'
// are tokens; '"' and '\” quote; '/' starts a comment; everything else
// makes up words.
type jaasTokenizer struct {
	s   string
	pos int
}

func (t *jaasTokenizer) next() (jaasToken, error) {
	for t.pos < len(t.s) {
		c := t.s[t.pos]
		switch {
		case c <= ' ':
			t.pos++
		case c == '/':
			if strings.HasPrefix(t.s[t.pos:], "/*") {
				end := strings.Index(t.s[t.pos+2:], "*/")
				if end < 0 {
					return jaasToken{}, errors.New("unterminated /* comment")
				}
				t.pos += 2 + end + 2
				continue
			}
			// "//" and a lone "/" both comment out the rest of the line.
			end := strings.IndexAny(t.s[t.pos:], "\r\n")
			if end < 0 {
				t.pos = len(t.s)
			} else {
				t.pos += end
			}
		case c == '=':
			t.pos++
			return jaasToken{kind: tokEquals}, nil
		case c == ';':
			t.pos++
			return jaasToken{kind: tokSemi}, nil
		case c == '"' || c == '\'':
			return t.quoted(c)
		default:
			start := t.pos
			for t.pos < len(t.s) && isJAASWordByte(t.s[t.pos]) {
				t.pos++
			}
			return jaasToken{kind: tokWord, text: t.s[start:t.pos]}, nil
		}
	}
	return jaasToken{kind: tokEOF}, nil
}

func isJAASWordByte(c byte) bool {
	return c > ' ' && c != '=' && c != ';' && c != '"' && c != '\'' && c != '/'
}

// quoted reads a quoted string starting at the opening quote q. Escapes
// follow Java: \b \f \n \r \t, octal \ooo, and a backslash before any other
// character stands for that character.
func (t *jaasTokenizer) quoted(q byte) (jaasToken, error) {
	var b strings.Builder
	i := t.pos + 1
	for i < len(t.s) {
		c := t.s[i]
		switch {
		case c == q:
			t.pos = i + 1
			return jaasToken{kind: tokQuoted, text: b.String()}, nil
		case c == '\n' || c == '\r':
			return jaasToken{}, errors.New("a quoted value runs past the end of its line: close the quote")
		case c == '\\' && i+1 < len(t.s):
			i++
			e := t.s[i]
			switch e {
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'v':
				b.WriteByte('\v')
			case '0', '1', '2', '3', '4', '5', '6', '7':
				// Up to three octal digits, at most \377, as in Java.
				n, max := 0, 3
				if e > '3' {
					max = 2
				}
				for k := 0; k < max && i < len(t.s) && '0' <= t.s[i] && t.s[i] <= '7'; k++ {
					n = n*8 + int(t.s[i]-'0')
					i++
				}
				b.WriteRune(rune(n))
				continue
			default:
				b.WriteByte(e)
			}
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return jaasToken{}, errors.New("a quoted value is not closed")
}

// jaasCredentials checks that j is a login module kmigrate supports, that
// it suits the mechanism (when one is given), and returns the module's
// mechanism family and credentials.
func jaasCredentials(j JAAS, mech Mechanism) (family Mechanism, user string, pass Secret, err error) {
	switch j.Module {
	case plainLoginModule:
		family = Plain
	case scramLoginModule:
		family = ScramSHA256 // either SCRAM; the caller checks mech
	default:
		return "", "", "", fmt.Errorf("login module %s is not supported: kmigrate supports %s (PLAIN) and %s (SCRAM-SHA-256, SCRAM-SHA-512)",
			j.Module, plainLoginModule, scramLoginModule)
	}
	if mech != "" {
		isScram := mech == ScramSHA256 || mech == ScramSHA512
		if (family == Plain) != (mech == Plain) || (family != Plain && !isScram) {
			want := plainLoginModule
			if isScram {
				want = scramLoginModule
			}
			return "", "", "", fmt.Errorf("login module %s does not match sasl.mechanism %s: use %s", j.Module, mech, want)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(j.Options)) {
		v := j.Options[k]
		switch {
		case k == "username" || k == "password":
		case k == "tokenauth" && family != Plain:
			if !strings.EqualFold(v.Reveal(), "false") {
				return "", "", "", errors.New("login module option tokenauth: delegation tokens are not supported by kmigrate; use a SCRAM user")
			}
		default:
			return "", "", "", fmt.Errorf("%s is not supported by kmigrate (%s takes username and password); remove it", optionNameOnly(k), j.Module)
		}
	}
	return family, j.Options["username"].Reveal(), j.Options["password"], nil
}

// optionNameOnly is optionName without the position.
func optionNameOnly(name string) string {
	if knownJAASOptions[name] {
		return fmt.Sprintf("login module option %q", name)
	}
	return "a login module option (its name is not shown in case it is part of a secret: check the quoting)"
}
