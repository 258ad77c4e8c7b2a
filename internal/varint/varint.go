// Package varint decodes the strict unsigned varints of kmigrate's binary
// formats (the tracing header, offset map segments). Strict means every
// value has exactly one encoding, the shortest: decoding then encoding gives
// back the same bytes, which the formats' fuzz tests rely on, and a value
// cannot be smuggled in an overlong form.
package varint

import (
	"encoding/binary"
	"fmt"
)

// Uvarint decodes the minimal unsigned varint at b[off:] and returns it
// with the offset after it. Errors name field and the byte position; callers
// wrap them with their format's sentinel.
func Uvarint(b []byte, off int, field string) (uint64, int, error) {
	var x uint64
	var s uint
	for i := 0; ; i++ {
		if off+i >= len(b) {
			return 0, off, fmt.Errorf("%s truncated at byte %d", field, off+i)
		}
		c := b[off+i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, off, fmt.Errorf("%s at byte %d overflows 64 bits", field, off)
		}
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, off, fmt.Errorf("%s at byte %d is not minimally encoded", field, off)
			}
			return x | uint64(c)<<s, off + i + 1, nil
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
}

// Reader reads the fields of a binary value in order, for a format's
// decoder: the first error sticks (later reads return 0 and leave Off), so
// the decoder checks Err once at the end. Errors wrap Wrap, the format's
// sentinel, then the error of Uvarint.
type Reader struct {
	B    []byte // the value
	Off  int    // the offset of the next field in B
	Err  error  // the first error, nil if none
	Wrap error  // the format's sentinel error (such as ErrMalformed)
}

// Uvarint reads the minimal unsigned varint at Off.
func (r *Reader) Uvarint(field string) uint64 {
	if r.Err != nil {
		return 0
	}
	x, next, err := Uvarint(r.B, r.Off, field)
	if err != nil {
		r.Err = fmt.Errorf("%w: %w", r.Wrap, err)
		return 0
	}
	r.Off = next
	return x
}

// Fail records err (if no error is recorded yet), for the checks a format
// makes beyond the varints themselves.
func (r *Reader) Fail(err error) {
	if r.Err == nil {
		r.Err = err
	}
}
