package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mirror holds the settings of record mirroring (the spec's mirror
// section, and flags). Load fills every field, with the defaults below for
// what is not given; a zero Mirror is not valid.
type Mirror struct {
	// Start is where copying begins in partitions the migration has not
	// copied from before.
	Start StartPosition `json:"start"`
	// StartFallback is where Start=committed begins in partitions that no
	// selected group has committed an offset for: StartEarliest or
	// StartLatest.
	StartFallback StartKind `json:"start_fallback"`
	// Until says when a run stops: UntilNever (mirror continuously) or
	// UntilEnd (stop once the source end offsets recorded when the run
	// started have been copied).
	Until Until `json:"until"`
	// Guarantee is ExactlyOnce (transactions on the target) or AtLeastOnce.
	Guarantee Guarantee `json:"guarantee"`
	// TracingHeaders adds kmigrate.src headers to mirrored records.
	TracingHeaders bool `json:"tracing_headers"`
	// MemoryBudget bounds the bytes of records held in memory, at least
	// MinMemoryBudget.
	MemoryBudget int64 `json:"memory_budget"`
	// TransactionMaxBytes bounds the record bytes of one transaction; at
	// least MinTransactionMaxBytes and at most
	// TransactionLimit(MemoryBudget).
	TransactionMaxBytes int64 `json:"transaction_max_bytes"`
	// TransactionInterval is how long a transaction may stay open before
	// it is committed, in (0, MaxTransactionInterval].
	TransactionInterval time.Duration `json:"transaction_interval"`
	// Compression is the target producer's compression codec: one of
	// "none", "gzip", "snappy", "lz4", "zstd".
	Compression string `json:"compression"`
}

// Mirror defaults and limits.
const (
	DefaultMemoryBudget        int64 = 256 << 20
	MinMemoryBudget            int64 = 48 << 20
	DefaultTransactionMaxBytes int64 = 16 << 20
	// MinTransactionMaxBytes keeps room for a record batch of Kafka's
	// default maximum size (max.message.bytes, about 1 MiB) in a
	// transaction.
	MinTransactionMaxBytes     int64 = 1 << 20
	DefaultTransactionInterval       = 250 * time.Millisecond
	// MaxTransactionInterval keeps transactions well inside the
	// producer's transaction timeout, and committed data visible to
	// read_committed consumers of the target without long stalls.
	MaxTransactionInterval = 30 * time.Second
	DefaultCompression     = "none"
)

// RuntimeOverhead is the part of a memory budget the mirror leaves to the
// Go runtime, the binary, clients and their goroutines (about 21 MiB
// resident measured idle, with margin).
const RuntimeOverhead int64 = 28 << 20

// TransactionLimit is the most one transaction may hold under a memory
// budget, and the one place this rule lives: of what the runtime overhead
// leaves, a sixth goes to the producer's buffer, which holds the open
// transaction's records until they are acknowledged (the mirror gives a
// sixth to fetch buffers and keeps the rest as headroom). A transaction_max_bytes
// above it is refused; the default follows it down.
func TransactionLimit(budget int64) int64 {
	usable := max(budget-RuntimeOverhead, 8<<20)
	return max(usable/6&^(1<<10-1), MinTransactionMaxBytes) // whole KiB, for messages
}

// DefaultMirror returns the settings used when neither the spec nor flags
// say otherwise.
func DefaultMirror() Mirror {
	return Mirror{
		Start:               StartPosition{Kind: StartEarliest},
		StartFallback:       StartEarliest,
		Until:               UntilNever,
		Guarantee:           ExactlyOnce,
		TracingHeaders:      true,
		MemoryBudget:        DefaultMemoryBudget,
		TransactionMaxBytes: DefaultTransactionMaxBytes,
		TransactionInterval: DefaultTransactionInterval,
		Compression:         DefaultCompression,
	}
}

// StartKind is the kind of a start position.
type StartKind string

// The start positions.
const (
	// StartEarliest starts at each partition's log start offset.
	StartEarliest StartKind = "earliest"
	// StartLatest starts at each partition's end offset when the
	// partition is first seen: only records produced later are copied.
	StartLatest StartKind = "latest"
	// StartCommitted starts at the lowest offset that the selected source
	// consumer groups have committed for each partition, so that their
	// consumers can move to the target without missing a record.
	StartCommitted StartKind = "committed"
	// StartTimestamp starts at the first record whose timestamp is at or
	// after StartPosition.Timestamp.
	StartTimestamp StartKind = "timestamp"
)

// StartPosition is where copying begins.
type StartPosition struct {
	Kind StartKind
	// Timestamp is set when Kind is StartTimestamp.
	Timestamp time.Time
}

// ParseStartPosition parses "earliest", "latest", "committed" (any case)
// or an RFC 3339 timestamp such as 2026-01-02T15:04:05Z.
func ParseStartPosition(s string) (StartPosition, error) {
	for _, k := range []StartKind{StartEarliest, StartLatest, StartCommitted} {
		if strings.EqualFold(s, string(k)) {
			return StartPosition{Kind: k}, nil
		}
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return StartPosition{}, fmt.Errorf("want earliest, latest, committed or an RFC 3339 timestamp such as 2026-01-02T15:04:05Z, not %q", s)
	}
	return StartPosition{Kind: StartTimestamp, Timestamp: ts}, nil
}

// String returns the position as ParseStartPosition reads it.
func (p StartPosition) String() string {
	if p.Kind == StartTimestamp {
		return p.Timestamp.Format(time.RFC3339Nano)
	}
	return string(p.Kind)
}

// MarshalText prints the position as String does (for JSON).
func (p StartPosition) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses as ParseStartPosition does.
func (p *StartPosition) UnmarshalText(b []byte) error {
	v, err := ParseStartPosition(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParseStartFallback parses the fallback of the committed start position:
// "earliest" or "latest".
func ParseStartFallback(s string) (StartKind, error) {
	for _, k := range []StartKind{StartEarliest, StartLatest} {
		if strings.EqualFold(s, string(k)) {
			return k, nil
		}
	}
	return "", fmt.Errorf("want earliest or latest, not %q", s)
}

// UnmarshalText parses as ParseStartFallback does: a StartKind read from
// text is only ever a fallback.
func (k *StartKind) UnmarshalText(b []byte) error {
	v, err := ParseStartFallback(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Until says when mirroring stops.
type Until string

// The stop conditions.
const (
	// UntilNever mirrors continuously, until the process is stopped.
	UntilNever Until = "never"
	// UntilEnd stops once every partition has been copied up to the end
	// offset it had when the run started.
	UntilEnd Until = "end"
)

// ParseUntil parses "end" or "never".
func ParseUntil(s string) (Until, error) {
	for _, u := range []Until{UntilEnd, UntilNever} {
		if strings.EqualFold(s, string(u)) {
			return u, nil
		}
	}
	return "", fmt.Errorf("want end (stop at the source end offsets recorded at start) or never (mirror continuously), not %q", s)
}

// UnmarshalText parses as ParseUntil does.
func (u *Until) UnmarshalText(b []byte) error {
	v, err := ParseUntil(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// Guarantee is the delivery guarantee of mirrored records.
type Guarantee string

// The guarantees.
const (
	// ExactlyOnce writes records and checkpoints in target transactions:
	// after any crash, every record is on the target exactly once.
	ExactlyOnce Guarantee = "exactly-once"
	// AtLeastOnce skips transactions: faster, and usable where the target
	// does not support them, but a crash can duplicate records.
	AtLeastOnce Guarantee = "at-least-once"
)

// ParseGuarantee parses "exactly-once" or "at-least-once".
func ParseGuarantee(s string) (Guarantee, error) {
	for _, g := range []Guarantee{ExactlyOnce, AtLeastOnce} {
		if strings.EqualFold(s, string(g)) {
			return g, nil
		}
	}
	return "", fmt.Errorf("want exactly-once or at-least-once, not %q", s)
}

// UnmarshalText parses as ParseGuarantee does.
func (g *Guarantee) UnmarshalText(b []byte) error {
	v, err := ParseGuarantee(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}

var compressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// ParseCompression parses a producer compression codec name (any case).
func ParseCompression(s string) (string, error) {
	for _, c := range compressions {
		if strings.EqualFold(s, c) {
			return c, nil
		}
	}
	return "", fmt.Errorf("want one of %s, not %q", strings.Join(compressions, ", "), s)
}

// ByteSize is a number of bytes, written in a spec or flag as an integer
// with an optional unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB
// (powers of 1000), in any case, with or without a space: "256MiB",
// "1 GB", "1048576".
type ByteSize int64

var sizeUnits = []struct {
	name string
	mult int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
	{"b", 1},
}

var errSize = errors.New("want a size like 256MiB: a whole number with B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000)")

// ParseByteSize parses a size as ByteSize describes.
func ParseByteSize(s string) (ByteSize, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if n := len(num) - len(u.name); n >= 0 && strings.EqualFold(num[n:], u.name) {
			num, mult = strings.TrimSpace(num[:n]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num == "" || num[0] == '+' || num[0] == '-' {
		return 0, fmt.Errorf("%w, not %q", errSize, s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return ByteSize(n * mult), nil
}

// String prints the size in the largest binary unit that divides it
// exactly ("256MiB"), or in bytes.
func (b ByteSize) String() string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// UnmarshalText parses as ParseByteSize does.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}
