package trace_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/trace"
)

// golden is the example from the package documentation.
var (
	goldenOrigin = trace.Origin{ClusterID: "c1", Topic: "t", Partition: 3, Offset: 300, Timestamp: 1700000000000}
	goldenBytes  = []byte{
		0x01,           // version
		0x02, 'c', '1', // cluster id
		0x01, 't', // topic
		0x06,       // partition 3, zigzag 6
		0xd8, 0x04, // offset 300, zigzag 600
		0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62, // timestamp 1700000000000
	}
)

func TestGolden(t *testing.T) {
	got := trace.NewEncoder("c1", "t").Append(nil, 3, 300, 1700000000000)
	if !bytes.Equal(got, goldenBytes) {
		t.Fatalf("Encoder.Append = % x, want % x", got, goldenBytes)
	}
	got, err := goldenOrigin.AppendBinary(nil)
	if err != nil || !bytes.Equal(got, goldenBytes) {
		t.Fatalf("AppendBinary = % x, %v; want % x", got, err, goldenBytes)
	}
	o, err := trace.Decode(goldenBytes)
	if err != nil || o != goldenOrigin {
		t.Fatalf("Decode = %+v, %v; want %+v", o, err, goldenOrigin)
	}
}

func TestRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 300) // needs a 2-byte length
	for _, tc := range []struct {
		name string
		o    trace.Origin
		size int // exact encoded length
	}{
		{"zero", trace.Origin{}, 6},
		{"typical", trace.Origin{ClusterID: "MkU3OEVBNTcwNTJENDM2Qk", Topic: "orders.payments.v1", Partition: 7, Offset: 123456789, Timestamp: 1760000000000}, 1 + 1 + 22 + 1 + 18 + 1 + 4 + 6},
		{"no timestamp", trace.Origin{ClusterID: "c", Topic: "t", Partition: 0, Offset: 0, Timestamp: -1}, 8},
		{"extremes", trace.Origin{ClusterID: "c", Topic: "t", Partition: math.MaxInt32, Offset: math.MaxInt64, Timestamp: math.MinInt64}, 1 + 2 + 2 + 5 + 10 + 10},
		{"max timestamp", trace.Origin{ClusterID: "c", Topic: "t", Partition: 1, Offset: 1, Timestamp: math.MaxInt64}, 1 + 2 + 2 + 1 + 1 + 10},
		{"long names", trace.Origin{ClusterID: long, Topic: long + "y", Partition: 1, Offset: 1, Timestamp: 1}, 1 + 2 + 300 + 2 + 301 + 3},
		{"utf8", trace.Origin{ClusterID: "clüster", Topic: "tópico-ü", Partition: 2, Offset: 64, Timestamp: 64}, 1 + 1 + 8 + 1 + 10 + 1 + 2 + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.o.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.size {
				t.Errorf("encoded length = %d, want %d (% x)", len(b), tc.size, b)
			}
			e := trace.NewEncoder(tc.o.ClusterID, tc.o.Topic)
			if got := e.Append(nil, tc.o.Partition, tc.o.Offset, tc.o.Timestamp); !bytes.Equal(got, b) {
				t.Errorf("Encoder.Append = % x, AppendBinary = % x", got, b)
			}
			got, err := trace.Decode(b)
			if err != nil || got != tc.o {
				t.Fatalf("Decode = %+v, %v; want %+v", got, err, tc.o)
			}
			raw, err := trace.DecodeRaw(b)
			if err != nil {
				t.Fatal(err)
			}
			if string(raw.ClusterID) != tc.o.ClusterID || string(raw.Topic) != tc.o.Topic ||
				raw.Partition != tc.o.Partition || raw.Offset != tc.o.Offset || raw.Timestamp != tc.o.Timestamp {
				t.Fatalf("DecodeRaw = %+v, want %+v", raw, tc.o)
			}
		})
	}
}

func TestAppendKeepsDst(t *testing.T) {
	e := trace.NewEncoder("c1", "t")
	dst := append(make([]byte, 0, 64), "head"...)
	got := e.Append(dst, 3, 300, 1700000000000)
	if want := append([]byte("head"), goldenBytes...); !bytes.Equal(got, want) {
		t.Fatalf("Append = % x, want % x", got, want)
	}
	if &got[0] != &dst[:1][0] {
		t.Fatal("Append reallocated although dst had room")
	}
}

func TestMaxLen(t *testing.T) {
	e := trace.NewEncoder("cluster", "topic")
	if got, want := e.MaxLen(), 1+1+7+1+5+5+10+10; got != want {
		t.Fatalf("MaxLen = %d, want %d", got, want)
	}
	// The largest encodings of each number reach MaxLen exactly.
	if got := len(e.Append(nil, math.MaxInt32, math.MaxInt64, math.MinInt64)); got != e.MaxLen() {
		t.Fatalf("longest value has %d bytes, MaxLen = %d", got, e.MaxLen())
	}
}

func TestAppendBinaryErrors(t *testing.T) {
	for _, tc := range []struct {
		o    trace.Origin
		want string
	}{
		{trace.Origin{ClusterID: "c", Topic: "t", Partition: -1}, "encode origin c/t/-1@0: negative partition -1"},
		{trace.Origin{ClusterID: "c", Topic: "t", Offset: -5}, "encode origin c/t/0@-5: negative offset -5"},
	} {
		b, err := tc.o.AppendBinary([]byte("x"))
		if err == nil || err.Error() != tc.want {
			t.Errorf("AppendBinary(%+v) error = %v, want %q", tc.o, err, tc.want)
		}
		if string(b) != "x" {
			t.Errorf("AppendBinary(%+v) changed dst to %q", tc.o, b)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	// valid prefix: version, cluster "c", topic "t"
	p := []byte{1, 1, 'c', 1, 't'}
	with := func(tail ...byte) []byte { return append(append([]byte{}, p...), tail...) }
	for _, tc := range []struct {
		name string
		in   []byte
		is   error
		want string
	}{
		{"nil", nil, trace.ErrMalformed, "malformed tracing header: empty value"},
		{"empty", []byte{}, trace.ErrMalformed, "malformed tracing header: empty value"},
		{"version 0", []byte{0, 1, 'c', 1, 't', 0, 0, 0}, trace.ErrVersion, "unsupported tracing header version 0 (this kmigrate reads version 1)"},
		{"version 2", []byte{2}, trace.ErrVersion, "unsupported tracing header version 2 (this kmigrate reads version 1)"},
		{"json", []byte(`{"cluster":"c"}`), trace.ErrVersion, "unsupported tracing header version 123 (this kmigrate reads version 1)"},
		{"only version", []byte{1}, trace.ErrMalformed, "malformed tracing header: cluster id length truncated at byte 1"},
		{"cluster length truncated", []byte{1, 0x80}, trace.ErrMalformed, "malformed tracing header: cluster id length truncated at byte 2"},
		{"cluster beyond buffer", []byte{1, 5, 'a', 'b'}, trace.ErrMalformed, "malformed tracing header: cluster id length 5 exceeds the 2 remaining bytes"},
		{"cluster length huge", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, trace.ErrMalformed, "malformed tracing header: cluster id length 18446744073709551615 exceeds the 0 remaining bytes"},
		{"cluster length overflow", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, trace.ErrMalformed, "malformed tracing header: cluster id length at byte 1 overflows 64 bits"},
		{"cluster length 11 bytes", []byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, trace.ErrMalformed, "malformed tracing header: cluster id length at byte 1 overflows 64 bits"},
		{"cluster length not minimal", []byte{1, 0x81, 0x00, 'c'}, trace.ErrMalformed, "malformed tracing header: cluster id length at byte 1 is not minimally encoded"},
		{"no topic", []byte{1, 1, 'c'}, trace.ErrMalformed, "malformed tracing header: topic length truncated at byte 3"},
		{"topic beyond buffer", []byte{1, 1, 'c', 2, 't'}, trace.ErrMalformed, "malformed tracing header: topic length 2 exceeds the 1 remaining bytes"},
		{"no partition", with(), trace.ErrMalformed, "malformed tracing header: partition truncated at byte 5"},
		{"partition truncated", with(0x80), trace.ErrMalformed, "malformed tracing header: partition truncated at byte 6"},
		{"no offset", with(0), trace.ErrMalformed, "malformed tracing header: offset truncated at byte 6"},
		{"offset truncated", with(0, 0xd8), trace.ErrMalformed, "malformed tracing header: offset truncated at byte 7"},
		{"offset not minimal", with(0, 0x80, 0x00, 0), trace.ErrMalformed, "malformed tracing header: offset at byte 6 is not minimally encoded"},
		{"no timestamp", with(0, 0), trace.ErrMalformed, "malformed tracing header: timestamp truncated at byte 7"},
		{"timestamp truncated", with(0, 0, 0xff, 0xff), trace.ErrMalformed, "malformed tracing header: timestamp truncated at byte 9"},
		{"trailing byte", with(0, 0, 0, 0), trace.ErrMalformed, "malformed tracing header: 1 trailing bytes after the timestamp"},
		{"trailing bytes", append(append([]byte{}, goldenBytes...), 0, 0, 0), trace.ErrMalformed, "malformed tracing header: 3 trailing bytes after the timestamp"},
		{"negative partition", with(0x01, 0, 0), trace.ErrMalformed, "malformed tracing header: partition -1 out of range"},
		{"partition above int32", with(0x80, 0x80, 0x80, 0x80, 0x10, 0, 0), trace.ErrMalformed, "malformed tracing header: partition 2147483648 out of range"},
		{"negative offset", with(0, 0x03, 0), trace.ErrMalformed, "malformed tracing header: negative offset -2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := trace.Decode(tc.in)
			if err == nil || !errors.Is(err, tc.is) || err.Error() != tc.want {
				t.Fatalf("Decode error = %v, want %q (wrapping %v)", err, tc.want, tc.is)
			}
			if o != (trace.Origin{}) {
				t.Errorf("Decode returned %+v with its error, want the zero Origin", o)
			}
			r, err := trace.DecodeRaw(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("DecodeRaw error = %v, want %q", err, tc.want)
			}
			if r.ClusterID != nil || r.Topic != nil {
				t.Errorf("DecodeRaw returned %+v with its error", r)
			}
		})
	}
}

// DecodeRaw's fields alias the value but cannot be appended into it.
func TestDecodeRawAliases(t *testing.T) {
	b := bytes.Clone(goldenBytes)
	r, err := trace.DecodeRaw(b)
	if err != nil {
		t.Fatal(err)
	}
	if &r.ClusterID[0] != &b[2] || &r.Topic[0] != &b[5] {
		t.Fatal("DecodeRaw copied the strings")
	}
	if cap(r.ClusterID) != 2 || cap(r.Topic) != 1 {
		t.Fatalf("caps = %d, %d; want 2, 1", cap(r.ClusterID), cap(r.Topic))
	}
	_ = append(r.ClusterID, 'X')
	if !bytes.Equal(b, goldenBytes) {
		t.Fatal("appending to a Raw field changed the value")
	}
}

// Origins that Decode returns do not alias the buffer.
func TestDecodeCopies(t *testing.T) {
	b := bytes.Clone(goldenBytes)
	o, err := trace.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if o != goldenOrigin {
		t.Fatalf("after clearing the buffer Origin = %+v", o)
	}
}

func TestAllocations(t *testing.T) {
	e := trace.NewEncoder("MkU3OEVBNTcwNTJENDM2Qk", "orders")
	buf := make([]byte, 0, e.MaxLen())
	v := e.Append(nil, 1, 2, 3)
	for _, tc := range []struct {
		name string
		f    func()
		want float64
	}{
		{"Append", func() { buf = e.Append(buf[:0], 7, 123456789, 1760000000000) }, 0},
		{"DecodeRaw", func() { _, _ = trace.DecodeRaw(v) }, 0},
		{"Decode", func() { _, _ = trace.Decode(v) }, 1},
	} {
		if got := testing.AllocsPerRun(100, tc.f); got != tc.want {
			t.Errorf("%s: %v allocations per run, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOriginString(t *testing.T) {
	if got, want := goldenOrigin.String(), "c1/t/3@300"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
}
