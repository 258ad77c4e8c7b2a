package offsetmap_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"runtime"
	"testing"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
)

// The example from the package documentation.
var (
	goldenRuns = []offsetmap.Run{
		{Source: 100, Target: 200, Len: 10},
		{Source: 110, Target: 211, Len: 5},
		{Source: 120, Target: 217, Len: 300},
	}
	goldenBytes = []byte{
		0x01,                   // version
		0x03,                   // 3 runs
		0x64, 0xc8, 0x01, 0x0a, // 100, 200, 10 (absolute)
		0x00, 0x01, 0x05, // gaps 0 and 1, len 5
		0x05, 0x01, 0xac, 0x02, // gaps 5 and 1, len 300
	}
)

func TestEncodeGolden(t *testing.T) {
	if got := offsetmap.AppendEncoded(nil, goldenRuns); !bytes.Equal(got, goldenBytes) {
		t.Fatalf("AppendEncoded = % x, want % x", got, goldenBytes)
	}
	got, err := offsetmap.Decode(goldenBytes)
	if err != nil || !reflect.DeepEqual(got, goldenRuns) {
		t.Fatalf("Decode = %v, %v; want %v", got, err, goldenRuns)
	}
	if got := offsetmap.AppendEncoded([]byte("k"), goldenRuns); !bytes.Equal(got, append([]byte("k"), goldenBytes...)) {
		t.Fatalf("AppendEncoded did not keep dst: % x", got)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		runs []offsetmap.Run
		size int
	}{
		{"none", nil, 2},
		{"at zero", []offsetmap.Run{{Source: 0, Target: 0, Len: 1}}, 5},
		// One run per transaction: marker gap 1 on the target, source
		// transaction marker gap 1: 3 bytes per run of up to 127 records.
		{"transactions", []offsetmap.Run{{Source: 0, Target: 0, Len: 100}, {Source: 101, Target: 101, Len: 100}, {Source: 202, Target: 202, Len: 127}}, 2 + 3*3},
		{"contiguous runs are kept apart", []offsetmap.Run{{Source: 5, Target: 5, Len: 1}, {Source: 6, Target: 6, Len: 1}}, 2 + 3 + 3},
		{"large offsets", []offsetmap.Run{{Source: 1 << 40, Target: 1 << 41, Len: 16383}, {Source: 1<<40 + 20000, Target: 1<<41 + 16384, Len: 16384}}, 2 + (6 + 6 + 2) + (2 + 1 + 3)},
		{"int64 edge", []offsetmap.Run{{Source: math.MaxInt64 - 2, Target: 0, Len: 1}, {Source: math.MaxInt64 - 1, Target: math.MaxInt64 - 1, Len: 1}}, 2 + (9 + 1 + 1) + (1 + 9 + 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := offsetmap.AppendEncoded(nil, tc.runs)
			if len(b) != tc.size {
				t.Errorf("encoded size = %d, want %d (% x)", len(b), tc.size, b)
			}
			got, err := offsetmap.Decode(b)
			if err != nil || !reflect.DeepEqual(got, tc.runs) {
				t.Fatalf("Decode = %v, %v; want %v", got, err, tc.runs)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	maxUvarint := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01} // 2^64-1
	maxInt64 := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}         // 2^63-1
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		in   []byte
		is   error
		want string
	}{
		{"empty", nil, offsetmap.ErrMalformed, "malformed offset map segment: empty value"},
		{"version 0", []byte{0, 0}, offsetmap.ErrVersion, "unsupported offset map encoding version 0 (this kmigrate reads version 1)"},
		{"version 2", []byte{2, 0}, offsetmap.ErrVersion, "unsupported offset map encoding version 2 (this kmigrate reads version 1)"},
		{"no count", []byte{1}, offsetmap.ErrMalformed, "malformed offset map segment: run count truncated at byte 1"},
		{"count not minimal", []byte{1, 0x80, 0x00}, offsetmap.ErrMalformed, "malformed offset map segment: run count at byte 1 is not minimally encoded"},
		{"count overflows", cat([]byte{1}, maxUvarint[:9], []byte{0x02}), offsetmap.ErrMalformed, "malformed offset map segment: run count at byte 1 overflows 64 bits"},
		{"huge count", cat([]byte{1}, maxUvarint), offsetmap.ErrMalformed, "malformed offset map segment: 18446744073709551615 runs cannot fit in the 0 remaining bytes"},
		{"count beyond buffer", []byte{1, 2, 0, 0, 1}, offsetmap.ErrMalformed, "malformed offset map segment: 2 runs cannot fit in the 3 remaining bytes"},
		{"count without runs", []byte{1, 1}, offsetmap.ErrMalformed, "malformed offset map segment: 1 runs cannot fit in the 0 remaining bytes"},
		{"trailing after empty", []byte{1, 0, 0}, offsetmap.ErrMalformed, "malformed offset map segment: 1 trailing bytes after the last run"},
		{"trailing", cat(goldenBytes, []byte{0, 0, 0}), offsetmap.ErrMalformed, "malformed offset map segment: 3 trailing bytes after the last run"},
		{"run truncated", []byte{1, 1, 0x80, 0x80, 0x80}, offsetmap.ErrMalformed, "run 0: malformed offset map segment: source gap truncated at byte 5"},
		{"second run truncated", []byte{1, 2, 0, 0, 1, 0, 0, 0x81}, offsetmap.ErrMalformed, "run 1: malformed offset map segment: length truncated at byte 8"},
		{"zero length", []byte{1, 1, 0, 0, 0}, offsetmap.ErrMalformed, "malformed offset map segment: run 0 has length 0"},
		{"gap not minimal", []byte{1, 1, 0x85, 0x00, 0, 1}, offsetmap.ErrMalformed, "run 0: malformed offset map segment: source gap at byte 2 is not minimally encoded"},
		{"source beyond int64", cat([]byte{1, 1}, maxUvarint, []byte{0, 1}), offsetmap.ErrMalformed, "malformed offset map segment: run 0 starts beyond the int64 range"},
		{"target beyond int64", cat([]byte{1, 1, 0}, maxUvarint, []byte{1}), offsetmap.ErrMalformed, "malformed offset map segment: run 0 starts beyond the int64 range"},
		{"end beyond int64", cat([]byte{1, 1}, maxInt64, []byte{0, 1}), offsetmap.ErrMalformed, "malformed offset map segment: run 0 ends beyond the int64 range"},
		{"length beyond int64", cat([]byte{1, 1, 0, 0}, maxUvarint), offsetmap.ErrMalformed, "malformed offset map segment: run 0 ends beyond the int64 range"},
		{"second run beyond int64", cat([]byte{1, 2, 0, 0}, maxInt64, []byte{1, 0}, []byte{1}), offsetmap.ErrMalformed, "malformed offset map segment: run 1 starts beyond the int64 range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := offsetmap.Decode(tc.in)
			if err == nil || !errors.Is(err, tc.is) || err.Error() != tc.want {
				t.Fatalf("Decode error = %v, want %q (wrapping %v)", err, tc.want, tc.is)
			}
			if runs != nil {
				t.Errorf("Decode returned %v with its error", runs)
			}
		})
	}
}

// A count that the buffer cannot hold is refused before anything is
// allocated for it: 2^20 runs would take 24 MiB.
func TestDecodeAllocationBounded(t *testing.T) {
	in := []byte{1, 0x80, 0x80, 0x40, 0, 0, 1} // claims 2^20 runs
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := offsetmap.Decode(in)
	runtime.ReadMemStats(&after)
	if err == nil || err.Error() != "malformed offset map segment: 1048576 runs cannot fit in the 3 remaining bytes" {
		t.Fatalf("Decode error = %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("Decode allocated %d bytes for a value it rejected", n)
	}
}
