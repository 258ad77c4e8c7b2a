package trace_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/trace"
)

// A realistic cluster id (22 characters, as Kafka generates them) and topic.
const (
	benchCluster = "MkU3OEVBNTcwNTJENDM2Qk"
	benchTopic   = "orders.payments.v1"
)

// BenchmarkAppend is the mirror's per-record cost. It must report
// 0 allocs/op: the mirror appends into a reused buffer.
func BenchmarkAppend(b *testing.B) {
	e := trace.NewEncoder(benchCluster, benchTopic)
	buf := make([]byte, 0, e.MaxLen())
	offset := int64(1_234_567_890)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.Append(buf[:0], 7, offset, 1760000000000)
		offset++
	}
	b.SetBytes(int64(len(buf)))
}

func benchValue() []byte {
	return trace.NewEncoder(benchCluster, benchTopic).Append(nil, 7, 1_234_567_890, 1760000000000)
}

// BenchmarkDecode allocates once (for both strings).
func BenchmarkDecode(b *testing.B) {
	v := benchValue()
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := trace.Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRaw is the loop-prevention check: 0 allocs/op.
func BenchmarkDecodeRaw(b *testing.B) {
	v := benchValue()
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		r, err := trace.DecodeRaw(v)
		if err != nil || string(r.ClusterID) != benchCluster {
			b.Fatal(err)
		}
	}
}

func BenchmarkStrip(b *testing.B) {
	user := []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-abc")}, {Key: "content-type", Value: []byte("json")}}
	mirrored := append([]kgo.RecordHeader{{Key: trace.HeaderKey, Value: benchValue()}}, user...)
	b.Run("nothing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = trace.Strip(user)
		}
	})
	b.Run("one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = trace.Strip(mirrored)
		}
	})
}
