package varint_test

import (
	"encoding/binary"
	"errors"
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

var errFormat = errors.New("malformed test value")

// Reader wraps the first error with the format's sentinel and keeps it:
// later reads return 0 and do not move.
func TestReader(t *testing.T) {
	r := varint.Reader{B: []byte{9, 0x80, 0x01, 0x05, 0x80}, Off: 1, Wrap: errFormat}
	if x := r.Uvarint("a"); x != 128 || r.Off != 3 || r.Err != nil {
		t.Fatalf("a = %d, off %d, err %v; want 128, 3, nil", x, r.Off, r.Err)
	}
	if x := r.Uvarint("b"); x != 5 || r.Off != 4 || r.Err != nil {
		t.Fatalf("b = %d, off %d, err %v; want 5, 4, nil", x, r.Off, r.Err)
	}
	if x := r.Uvarint("c"); x != 0 || r.Off != 4 || !errors.Is(r.Err, errFormat) || r.Err.Error() != "malformed test value: c truncated at byte 5" {
		t.Fatalf("c = %d, off %d, err %v; want 0, 4, the wrapped truncation", x, r.Off, r.Err)
	}
	first := r.Err
	r.Fail(errors.New("later"))
	if x := r.Uvarint("d"); x != 0 || r.Off != 4 || r.Err != first {
		t.Fatalf("after an error: %d, off %d, err %v; want 0, 4, the first error", x, r.Off, r.Err)
	}
	var fresh varint.Reader
	fresh.Fail(errFormat)
	if fresh.Err != errFormat {
		t.Fatalf("Fail on a fresh reader: %v", fresh.Err)
	}
}
