package trace_test

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/trace"
)

func header(t *testing.T, o trace.Origin) kgo.RecordHeader {
	t.Helper()
	b, err := o.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return kgo.RecordHeader{Key: trace.HeaderKey, Value: b}
}

// The one rule, for every kind of header: Of against source partition
// src/orders/3 and FromCluster against cluster src.
func TestOfAndFromCluster(t *testing.T) {
	src := trace.Source{ClusterID: "src", Topic: "orders", Partition: 3}
	copyOf := func(cluster, topic string, p int32, off int64) kgo.RecordHeader {
		return header(t, trace.Origin{ClusterID: cluster, Topic: topic, Partition: p, Offset: off, Timestamp: 5})
	}
	for _, tc := range []struct {
		name    string
		headers []kgo.RecordHeader
		of      trace.Kind
		cluster trace.Kind
		offset  int64 // for Copy and Sibling
		err     error // for Corrupt
	}{
		{"no headers", nil, trace.Native, trace.Native, 0, nil},
		{"user headers only", []kgo.RecordHeader{h("traceparent", "x")}, trace.Native, trace.Native, 0, nil},
		{"copy", []kgo.RecordHeader{h("a", "b"), copyOf("src", "orders", 3, 42)}, trace.Copy, trace.Copy, 42, nil},
		{"copy of offset 0", []kgo.RecordHeader{copyOf("src", "orders", 3, 0)}, trace.Copy, trace.Copy, 0, nil},
		{"another partition", []kgo.RecordHeader{copyOf("src", "orders", 4, 42)}, trace.Sibling, trace.Copy, 42, nil},
		{"another topic", []kgo.RecordHeader{copyOf("src", "payments", 3, 7)}, trace.Sibling, trace.Copy, 7, nil},
		{"topic is a prefix", []kgo.RecordHeader{copyOf("src", "order", 3, 7)}, trace.Sibling, trace.Copy, 7, nil},
		{"another cluster", []kgo.RecordHeader{copyOf("other", "orders", 3, 42)}, trace.Native, trace.Native, 0, nil},
		{"cluster is a prefix", []kgo.RecordHeader{copyOf("sr", "orders", 3, 42)}, trace.Native, trace.Native, 0, nil},
		{"last header wins", []kgo.RecordHeader{copyOf("src", "orders", 3, 1), copyOf("other", "orders", 3, 2)}, trace.Native, trace.Native, 0, nil},
		{"last header wins, copy", []kgo.RecordHeader{copyOf("other", "orders", 3, 1), copyOf("src", "orders", 3, 2)}, trace.Copy, trace.Copy, 2, nil},
		{"newer version", []kgo.RecordHeader{h(trace.HeaderKey, "\x02anything")}, trace.Corrupt, trace.Corrupt, 0, trace.ErrVersion},
		{"truncated", []kgo.RecordHeader{h(trace.HeaderKey, "\x01\x03sr")}, trace.Corrupt, trace.Corrupt, 0, trace.ErrMalformed},
		{"empty value", []kgo.RecordHeader{h(trace.HeaderKey, "")}, trace.Corrupt, trace.Corrupt, 0, trace.ErrMalformed},
		{"corrupt after a copy", []kgo.RecordHeader{copyOf("src", "orders", 3, 1), h(trace.HeaderKey, "\x01")}, trace.Corrupt, trace.Corrupt, 0, trace.ErrMalformed},
		{"other kmigrate header only", []kgo.RecordHeader{h("kmigrate.other", "\x00")}, trace.Native, trace.Native, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, k, err := trace.Of(tc.headers, src)
			check(t, "Of", r, k, err, tc.of, tc.offset, tc.err)
			r, k, err = trace.FromCluster(tc.headers, src.ClusterID)
			check(t, "FromCluster", r, k, err, tc.cluster, tc.offset, tc.err)
		})
	}
}

func check(t *testing.T, fn string, r trace.Raw, k trace.Kind, err error, want trace.Kind, offset int64, wantErr error) {
	t.Helper()
	if k != want {
		t.Errorf("%s = %v, want %v", fn, k, want)
	}
	switch want {
	case trace.Corrupt:
		if !errors.Is(err, wantErr) {
			t.Errorf("%s error = %v, want %v", fn, err, wantErr)
		}
	case trace.Copy, trace.Sibling:
		if err != nil || r.Offset != offset || string(r.ClusterID) != "src" {
			t.Errorf("%s = %+v, %v; want source offset %d of cluster src", fn, r, err, offset)
		}
	default:
		if err != nil || r.ClusterID != nil {
			t.Errorf("%s = %+v, %v; want no origin, no error", fn, r, err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[trace.Kind]string{trace.Native: "native", trace.Copy: "copy", trace.Sibling: "sibling", trace.Corrupt: "corrupt", 9: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestOfDoesNotAllocate(t *testing.T) {
	hs := []kgo.RecordHeader{h("a", "b"), header(t, trace.Origin{ClusterID: "src", Topic: "orders", Partition: 3, Offset: 1 << 40, Timestamp: 5})}
	src := trace.Source{ClusterID: "src", Topic: "orders", Partition: 3}
	if n := testing.AllocsPerRun(100, func() {
		if _, k, _ := trace.Of(hs, src); k != trace.Copy {
			t.Fatal("not a copy")
		}
	}); n != 0 {
		t.Errorf("Of allocates %v times", n)
	}
}
