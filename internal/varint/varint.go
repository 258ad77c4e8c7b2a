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
