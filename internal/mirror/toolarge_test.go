package mirror_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// copyBatchBytes is the size of a record batch holding only the copy of a
// record of topic/partition@offset with key and a value of valueLen bytes:
// what the target's max.message.bytes limits, plus the 4 bytes of length
// prefix that franz-go counts with it.
func copyBatchBytes(srcID, topic string, partition int32, offset int64, ts time.Time, key []byte, valueLen int) int {
	hv := trace.NewEncoder(srcID, topic).Append(nil, partition, offset, ts.UnixMilli())
	l := 3 + kbin.VarintLen(int32(len(key))) + len(key) + kbin.VarintLen(int32(valueLen)) + valueLen +
		kbin.VarintLen(1) + kbin.VarintLen(int32(len(trace.HeaderKey))) + len(trace.HeaderKey) + kbin.VarintLen(int32(len(hv))) + len(hv)
	return 65 + kbin.VarintLen(int32(l)) + l
}

// TestRecordTooLarge copies into a target topic whose max.message.bytes is
// smaller than one source record: that partition stops at the record with
// an error naming topic, partition and offset, the records before it are
// copied, and the other partitions complete. The other records are small
// but many: batched together they exceed max.message.bytes, which the copy
// must not do. The limit is exact: the largest record that fits is copied.
func TestRecordTooLarge(t *testing.T) {
	const maxMessage = 4096
	base := time.UnixMilli(1_700_000_000_000)
	tsOf := func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }
	// fit is the largest value of record orders/1@157 whose copy fits.
	fit := func(srcID string) int {
		v := maxMessage
		for copyBatchBytes(srcID, "orders", 1, 157, tsOf(157), []byte("k157"), v) > maxMessage {
			v--
		}
		return v
	}
	for _, tc := range []struct {
		name    string
		size    func(fit int) int
		stopped bool
	}{
		{"far too large", func(int) int { return 3 * maxMessage }, true},
		// Fits without the tracing header the copy adds, not with it.
		{"one byte too large", func(fit int) int { return fit + 1 }, true},
		{"largest that fits", func(fit int) int { return fit }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := newPair(t)
			pair.Source.CreateTopic(t, "orders", 3, noRetention)
			pair.Target.CreateTopic(t, "orders", 3, map[string]string{"retention.ms": "-1", "max.message.bytes": fmt.Sprint(maxMessage)})
			// 300 records of about 200 bytes per partition.
			var rs []*kgo.Record
			for p := range int32(3) {
				for i := range 300 {
					r := &kgo.Record{Topic: "orders", Partition: p, Key: fmt.Appendf(nil, "k%d", i), Value: bytes.Repeat([]byte{'a' + byte(p)}, 200), Timestamp: tsOf(i)}
					if p == 1 && i == 157 {
						r.Value = bytes.Repeat([]byte{'X'}, tc.size(fit(pair.Source.ID)))
					}
					rs = append(rs, r)
				}
			}
			pair.Source.Produce(t, rs...)

			m := newMirror(t, pair, "large", bounded(), "orders")
			err := runErr(t, m, 60*time.Second)
			if !tc.stopped {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				assertMirrored(t, pair, "orders", "orders", true)
				assertState(t, pair, "large", "orders", "orders", true)
				return
			}
			if !errors.Is(err, mirror.ErrPartitionsStopped) {
				t.Fatalf("Run: %v, want an error wrapping ErrPartitionsStopped", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "orders/1 offset 157") || !strings.Contains(msg, "max.message.bytes") {
				t.Errorf("error %q does not name orders/1 offset 157 and max.message.bytes", msg)
			}
			var want []*kgo.Record
			for _, r := range pair.Source.ConsumeAll(t, "orders") {
				if r.Partition != 1 || r.Offset < 157 {
					want = append(want, r)
				}
			}
			assertRecords(t, pair, "orders", want, true)
			assertExactlyOnce(t, pair, "orders", want)
			snap := loadState(t, pair, "large")
			if got, want := checkpoints(snap, "orders"), map[int32]int64{0: 300, 1: 157, 2: 300}; !maps.Equal(got, want) {
				t.Errorf("checkpoints %v, want %v", got, want)
			}
			st := m.Stats()
			for _, ps := range st.Partitions {
				stopped := ps.Stopped != ""
				if stopped != (ps.Partition == 1) || (stopped && !strings.Contains(ps.Stopped, "orders/1 offset 157")) {
					t.Errorf("partition %d: stopped %q", ps.Partition, ps.Stopped)
				}
			}
			if st.Records != 757 || st.Sessions != 1 {
				t.Errorf("copied %d records in %d sessions, want 757 in 1", st.Records, st.Sessions)
			}
		})
	}
}
