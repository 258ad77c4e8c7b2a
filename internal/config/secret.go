package config

import (
	"fmt"
	"log/slog"
)

// redacted is what a Secret prints as, everywhere.
const redacted = "[redacted]"

// Secret holds a credential. Every way Go has of printing or encoding it
// (fmt verbs, JSON, YAML, slog) shows "[redacted]", so a secret cannot leak
// through a log line, an error message or a printed configuration by
// accident. Reveal is the one deliberate way out, used where the value goes
// to the cluster and nowhere else.
type Secret string

// Reveal returns the secret's value. Call it only to hand the value to a
// Kafka client.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format implements fmt.Formatter so that every verb, including %x and %q,
// prints the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.String())
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
	default:
		fmt.Fprint(f, s.String())
	}
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler, which JSON and YAML encoders
// use.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; without it MarshalText
// would make decoding asymmetric.
func (s *Secret) UnmarshalText(b []byte) error {
	*s = Secret(b)
	return nil
}
