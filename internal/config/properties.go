package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Properties is a parsed client properties file: the keys it sets, each with
// its value (after ${VAR} expansion) and the line it starts on. It knows its
// file name, for messages, and its directory, against which relative paths in
// it resolve.
//
// Values may be secrets, so Properties prints only its keys: every fmt verb
// shows "[redacted]" in place of the values of secret keys.
type Properties struct {
	name    string
	entries []property
	index   map[string]int
	// warnings found while parsing, such as a key set twice; Apply returns
	// them with its own.
	warnings []warning
	// env expands ${VAR}s in sasl.jaas.config option values, which Apply
	// does after parsing the JAAS so that a password holding a quote
	// cannot break its quoting.
	env LookupEnv
}

// warning is a message with the line it is about, for sorting.
type warning struct {
	line int
	msg  string
}

type property struct {
	key   string
	value string
	line  int
}

// LoadProperties reads and parses the properties file at path; see
// ParseProperties. A nil env means os.LookupEnv.
func LoadProperties(path string, env LookupEnv) (Properties, error) {
	f, err := os.Open(path)
	if err != nil {
		return Properties{}, fmt.Errorf("read properties file: %w", err)
	}
	defer f.Close()
	return ParseProperties(f, path, env)
}

// maxPropertiesSize bounds what ParseProperties reads: client properties
// files are a few kilobytes, and a path that names the wrong file (a log, a
// device) should fail fast rather than fill memory.
const maxPropertiesSize = 4 << 20

// ParseProperties parses Java .properties syntax (the format both Java
// clients and tools built on librdkafka read): "key=value", "key: value" or
// "key value"; "#" and "!" comment lines; backslash line continuations; and
// the escapes \t \n \r \f \uXXXX, with a backslash before any other
// character standing for that character (so "\=" and "\:" put those in a
// key). The input is read as UTF-8 rather than Java's ISO-8859-1, which
// agrees for ASCII files; \uXXXX works either way.
//
// Each value is then trimmed of surrounding whitespace, as Kafka's clients
// trim config values, and ${VAR} references in it expand through env (see
// the package documentation); a nil env means os.LookupEnv. The exception is
// sasl.jaas.config, whose option values Apply expands after parsing the
// JAAS syntax, so that a password holding a quote needs no escaping.
//
// name is the file's path: it prefixes messages ("name:line: ..."), and
// relative paths in the file resolve against its directory.
func ParseProperties(r io.Reader, name string, env LookupEnv) (Properties, error) {
	env = env.orOS()
	if name == "" {
		name = "(properties)"
	}
	data, err := io.ReadAll(io.LimitReader(r, maxPropertiesSize+1))
	if err != nil {
		return Properties{}, fmt.Errorf("read properties file %s: %w", name, err)
	}
	if len(data) > maxPropertiesSize {
		return Properties{}, fmt.Errorf("properties file %s is larger than %d MiB: is it the right file?", name, maxPropertiesSize>>20)
	}
	p := Properties{name: name, index: map[string]int{}, env: env}
	var errs []error
	for _, l := range logicalLines(string(data)) {
		rawKey, rawValue := splitKeyValue(l.text)
		key, err := unescape(rawKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: key: %w", name, l.line, err))
			continue
		}
		value, err := unescape(rawValue)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: value of %s: %w", name, l.line, keyForMessage(key), err))
			continue
		}
		value = strings.TrimSpace(value)
		if key != "sasl.jaas.config" {
			value, err = expandEnv(value, env)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %w", name, l.line, keyForMessage(key), err))
				continue
			}
		}
		if i, dup := p.index[key]; dup {
			// Java keeps the last value; say so, since one of the two lines
			// is then dead.
			p.warnings = append(p.warnings, warning{l.line, fmt.Sprintf("%s:%d: %s is set again; the value from line %d is ignored", name, l.line, keyForMessage(key), p.entries[i].line)})
			p.entries[i] = property{key: key, value: value, line: l.line}
			continue
		}
		p.index[key] = len(p.entries)
		p.entries = append(p.entries, property{key: key, value: value, line: l.line})
	}
	if len(errs) > 0 {
		return Properties{}, errors.Join(errs...)
	}
	return p, nil
}

// Name returns the file name the properties were parsed from.
func (p Properties) Name() string { return p.name }

// Keys returns the keys in the order they first appear in the file.
func (p Properties) Keys() []string {
	keys := make([]string, len(p.entries))
	for i, e := range p.entries {
		keys[i] = e.key
	}
	return keys
}

// Get returns the value of key and the line it was set on. The value is not
// redacted: do not print it for a secret key.
func (p Properties) Get(key string) (value string, line int, ok bool) {
	i, ok := p.index[key]
	if !ok {
		return "", 0, false
	}
	return p.entries[i].value, p.entries[i].line, true
}

// String lists the properties as "name: key=value, ...", with the values of
// secret keys redacted.
func (p Properties) String() string {
	var b strings.Builder
	b.WriteString(p.name)
	b.WriteString(":")
	for i, e := range p.entries {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(e.key)
		b.WriteByte('=')
		if isSecretKey(e.key) {
			b.WriteString(redacted)
		} else {
			b.WriteString(e.value)
		}
	}
	return b.String()
}

// Format implements fmt.Formatter: every verb prints String, so that %v,
// %+v and %#v cannot reach the raw values.
func (p Properties) Format(f fmt.State, _ rune) { io.WriteString(f, p.String()) }

// isSecretKey reports whether a key's value is a credential. Such values are
// never printed; messages refer to them by key and line.
func isSecretKey(k string) bool {
	switch k {
	case "sasl.jaas.config", "ssl.keystore.key", "ssl.key.pem", "sasl.oauthbearer.client.secret":
		return true
	}
	lk := strings.ToLower(k)
	return strings.Contains(lk, "password") || strings.Contains(lk, "secret")
}

type logicalLine struct {
	text string // raw: escapes are still in it
	line int    // the natural line it starts on, from 1
}

// logicalLines splits a properties file into logical lines the way Java's
// Properties.load does: natural lines end at \n, \r or \r\n; leading
// whitespace is dropped; blank lines and lines starting with # or ! are
// comments; a line ending in an odd number of backslashes continues on the
// next, whose leading whitespace is dropped too.
func logicalLines(s string) []logicalLine {
	var out []logicalLine
	var cur strings.Builder
	inLogical := false // cur holds a line that continues
	start := 0
	lineNo := 0
	for len(s) > 0 {
		lineNo++
		end := strings.IndexAny(s, "\r\n")
		var nat string
		if end < 0 {
			nat, s = s, ""
		} else {
			nat = s[:end]
			if s[end] == '\r' && end+1 < len(s) && s[end+1] == '\n' {
				end++
			}
			s = s[end+1:]
		}
		nat = strings.TrimLeft(nat, " \t\f")
		if !inLogical {
			if nat == "" || nat[0] == '#' || nat[0] == '!' {
				continue
			}
			start = lineNo
		}
		if continues(nat) {
			cur.WriteString(nat[:len(nat)-1])
			inLogical = true
			continue
		}
		cur.WriteString(nat)
		out = append(out, logicalLine{text: cur.String(), line: start})
		cur.Reset()
		inLogical = false
	}
	if inLogical {
		// The file ends inside a continuation; Java keeps what it has.
		out = append(out, logicalLine{text: cur.String(), line: start})
	}
	return out
}

// continues reports whether a natural line ends in an odd number of
// backslashes.
func continues(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line at the first unescaped '=', ':' or
// whitespace. Whitespace around the separator is dropped, as is one '=' or
// ':' after whitespace ("key = value").
func splitKeyValue(l string) (key, value string) {
	keyEnd, valStart := len(l), len(l)
	escaped := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		if escaped {
			escaped = false
			continue
		}
		switch c {
		case '\\':
			escaped = true
			continue
		case '=', ':':
			keyEnd, valStart = i, i+1
		case ' ', '\t', '\f':
			keyEnd = i
			j := i
			for j < len(l) && isPropSpace(l[j]) {
				j++
			}
			if j < len(l) && (l[j] == '=' || l[j] == ':') {
				j++
			}
			valStart = j
		default:
			continue
		}
		break
	}
	for valStart < len(l) && isPropSpace(l[valStart]) {
		valStart++
	}
	return l[:keyEnd], l[valStart:]
}

func isPropSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// unescape resolves the escapes of a key or value. Errors do not quote the
// text: it may be a secret.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			break // a trailing backslash, left by a continuation at EOF
		}
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, n, err := unicodeEscape(s[i+1:])
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
			i += n
		default:
			// Keep multi-byte UTF-8 characters whole.
			_, size := utf8.DecodeRuneInString(s[i:])
			b.WriteString(s[i : i+size])
			i += size - 1
		}
	}
	return b.String(), nil
}

// unicodeEscape decodes the XXXX of a \uXXXX escape at the start of s, and a
// following \uXXXX when the two form a UTF-16 surrogate pair. It returns the
// rune and how many bytes of s it used.
func unicodeEscape(s string) (rune, int, error) {
	u, ok := hex4(s)
	if !ok {
		return 0, 0, errors.New(`malformed \uXXXX escape: want four hex digits after \u`)
	}
	r := rune(u)
	if utf16.IsSurrogate(r) && len(s) >= 10 && s[4] == '\\' && s[5] == 'u' {
		if u2, ok := hex4(s[6:]); ok {
			if pair := utf16.DecodeRune(r, rune(u2)); pair != utf8.RuneError {
				return pair, 10, nil
			}
		}
	}
	return r, 4, nil // a lone surrogate is written as U+FFFD
}

func hex4(s string) (uint16, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var v uint16
	for i := range 4 {
		c := s[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(d)
	}
	return v, true
}

// resolvePath makes a path from the file relative to the file's directory.
func (p Properties) resolvePath(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(p.name), path)
}
