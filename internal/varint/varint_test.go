package varint_test

import (
	"encoding/binary"
	"testing"

	"github.com/kmigrate/kmigrate/internal/varint"
)

func TestUvarint(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		off  int
		want uint64
		next int
		err  string
	}{
		{"zero", []byte{0}, 0, 0, 1, ""},
		{"one byte", []byte{0x7f}, 0, 127, 1, ""},
		{"two bytes at an offset", []byte{9, 0x80, 0x01}, 1, 128, 3, ""},
		{"max", binary.AppendUvarint(nil, 1<<64-1), 0, 1<<64 - 1, 10, ""},
		{"empty", nil, 0, 0, 0, "f truncated at byte 0"},
		{"truncated", []byte{0x80, 0x80}, 0, 0, 0, "f truncated at byte 2"},
		{"overlong zero", []byte{0x80, 0x00}, 0, 0, 0, "f at byte 0 is not minimally encoded"},
		{"overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, 0, 0, "f at byte 0 overflows 64 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, next, err := varint.Uvarint(tc.in, tc.off, "f")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || x != tc.want || next != tc.next {
				t.Fatalf("= %d, %d, %v; want %d, %d", x, next, err, tc.want, tc.next)
			}
		})
	}
}
