package status

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// The target's tail as status judges it, by the one rule of package trace:
// records without a tracing header and copies from another cluster are
// native writes; copies from the source are not, and neither is a record
// whose tracing header does not decode (it claims to be a copy: no
// evidence that a producer moved).
func TestNativeTailByTracingHeader(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	c.CreateTopic(t, "orders", 1, map[string]string{"retention.ms": "-1"})
	base := time.UnixMilli(1_700_000_000_000).UTC()
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	hdr := func(o trace.Origin) []kgo.RecordHeader {
		b, err := o.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		return []kgo.RecordHeader{{Key: "user", Value: []byte("x")}, {Key: trace.HeaderKey, Value: b}}
	}
	c.Produce(t,
		&kgo.Record{Topic: "orders", Timestamp: at(0)}, // native
		&kgo.Record{Topic: "orders", Timestamp: at(1), Headers: hdr(trace.Origin{ClusterID: "source-cluster", Topic: "orders", Offset: 7})},
		&kgo.Record{Topic: "orders", Timestamp: at(2), Headers: hdr(trace.Origin{ClusterID: "elsewhere", Topic: "orders", Offset: 7})},
		&kgo.Record{Topic: "orders", Timestamp: at(3), Headers: []kgo.RecordHeader{{Key: trace.HeaderKey, Value: []byte{1, 9}}}},
		&kgo.Record{Topic: "orders", Timestamp: at(4), Headers: []kgo.RecordHeader{{Key: trace.HeaderKey, Value: []byte{2}}}},
		&kgo.Record{Topic: "orders", Timestamp: at(5), Headers: hdr(trace.Origin{ClusterID: "source-cluster", Topic: "payments", Partition: 3, Offset: 1})},
		&kgo.Record{Topic: "orders", Timestamp: at(6), Headers: []kgo.RecordHeader{{Key: "kmigrate.other", Value: []byte("y")}}},
	)
	adm := c.Admin(t)
	ends, err := adm.ListEndOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	got, err := nativeTail(t.Context(), inputs{Clusters: Clusters{Target: c.Client(t), SourceID: "source-cluster"}}, "orders", "orders", offsets{tgtEnds: ends, tgtStarts: starts})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, time.Time.Compare)
	if want := []time.Time{at(0), at(2), at(6)}; !slices.Equal(got, want) {
		t.Errorf("native writes in the tail: %v, want %v (no header, another cluster's copy, a foreign kmigrate header)", got, want)
	}
}
