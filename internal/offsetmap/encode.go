package offsetmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/kmigrate/kmigrate/internal/varint"
)

// Version is the segment encoding version that AppendEncoded writes and
// Decode reads.
const Version = 1

// Errors of Decode, DecodeSegment and Load. Test with errors.Is.
var (
	// ErrVersion: the value was written in a version this kmigrate does not
	// read (by a newer kmigrate).
	ErrVersion = errors.New("unsupported offset map encoding version")
	// ErrMalformed: the value is truncated, has trailing bytes or holds
	// runs that cannot be (zero length, offsets beyond int64).
	ErrMalformed = errors.New("malformed offset map segment")
)

// minRunBytes is the smallest encoding of a run: three one-byte varints.
const minRunBytes = 3

// AppendEncoded appends the encoding of runs (see the package documentation)
// to dst. runs must be ordered as a Map keeps them (as Map.Runs, Map.Since
// and Segmenter.Pending return them): each run's offsets at or after the
// previous run's ends, lengths at least 1. Other input encodes to a value
// that Decode rejects.
func AppendEncoded(dst []byte, runs []Run) []byte {
	dst = append(dst, Version)
	dst = binary.AppendUvarint(dst, uint64(len(runs)))
	var source, target int64 // end of the previous run; 0 before the first
	for _, r := range runs {
		dst = binary.AppendUvarint(dst, uint64(r.Source-source))
		dst = binary.AppendUvarint(dst, uint64(r.Target-target))
		dst = binary.AppendUvarint(dst, uint64(r.Len))
		source, target = r.SourceEnd(), r.TargetEnd()
	}
	return dst
}

// Decode decodes runs encoded by AppendEncoded. It is strict: any value that
// AppendEncoded would not have produced from valid runs is an error wrapping
// ErrVersion or ErrMalformed, no input makes it panic, and the memory it
// allocates is bounded by the length of b, whatever count b claims.
func Decode(b []byte) ([]Run, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty value", ErrMalformed)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w %d (this kmigrate reads version %d)", ErrVersion, b[0], Version)
	}
	d := varint.Reader{B: b, Off: 1, Wrap: ErrMalformed}
	count := d.Uvarint("run count")
	if d.Err != nil {
		return nil, d.Err
	}
	if rest := uint64(len(b) - d.Off); count > rest/minRunBytes {
		return nil, fmt.Errorf("%w: %d runs cannot fit in the %d remaining bytes", ErrMalformed, count, rest)
	}
	if count == 0 {
		if d.Off != len(b) {
			return nil, fmt.Errorf("%w: %d trailing bytes after the last run", ErrMalformed, len(b)-d.Off)
		}
		return nil, nil
	}
	runs := make([]Run, 0, count)
	var source, target int64
	for i := range int(count) {
		sgap := d.Uvarint("source gap")
		tgap := d.Uvarint("target gap")
		n := d.Uvarint("length")
		if d.Err != nil {
			return nil, fmt.Errorf("run %d: %w", i, d.Err)
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: run %d has length 0", ErrMalformed, i)
		}
		if sgap > uint64(math.MaxInt64-source) || tgap > uint64(math.MaxInt64-target) {
			return nil, fmt.Errorf("%w: run %d starts beyond the int64 range", ErrMalformed, i)
		}
		r := Run{Source: source + int64(sgap), Target: target + int64(tgap)}
		if n > uint64(math.MaxInt64-r.Source) || n > uint64(math.MaxInt64-r.Target) {
			return nil, fmt.Errorf("%w: run %d ends beyond the int64 range", ErrMalformed, i)
		}
		r.Len = int64(n)
		runs = append(runs, r)
		source, target = r.SourceEnd(), r.TargetEnd()
	}
	if d.Off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes after the last run", ErrMalformed, len(b)-d.Off)
	}
	return runs, nil
}
