package gateway

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestUpstreamFetchHasNoTaggedFields: a v12 fetch the gateway sends
// upstream ends with an empty rack id and no tagged field. A zero
// ReplicaState was encoded as tagged field 1, which Kafka 3.9 and 4.x
// reject at v12 by closing the connection (seen in the real-Kafka lane:
// every fetch through the gateway failed; kfake accepts it).
func TestUpstreamFetchHasNoTaggedFields(t *testing.T) {
	ur := upstreamFetch(&kmsg.FetchRequest{MaxWaitMillis: 500, MinBytes: 1, MaxBytes: 1 << 20, IsolationLevel: 1})
	ur.SetVersion(12)
	b := ur.AppendTo(nil)
	if tail := b[len(b)-2:]; !bytes.Equal(tail, []byte{0x01, 0x00}) {
		t.Errorf("v12 upstream fetch ends with % x, want 01 00 (empty rack id, no tagged field)", tail)
	}
	if ur.ReplicaID != -1 || ur.SessionEpoch != -1 || ur.MaxWaitMillis != 500 || ur.MinBytes != 1 || ur.MaxBytes != 1<<20 || ur.IsolationLevel != 1 {
		t.Errorf("upstream fetch %+v: limits not the client's", ur)
	}
}

// TestFailedFetchPartitionHasEmptyRecords: a partition the gateway fails
// carries an empty record set, not a null one, which librdkafka cannot
// parse ("invalid MessageSetSize -1"), so it never saw the error and
// retried the fetch at once, forever.
func TestFailedFetchPartitionHasEmptyRecords(t *testing.T) {
	req := &kmsg.FetchRequest{Topics: []kmsg.FetchRequestTopic{{Topic: "orders", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 2}}}}}
	m := newFetchMerge(req, func(string) *Base { return nil })
	m.setName(Source, "orders", "orders")
	m.failPartition("orders", 2, 7)
	m.add(Source, req, nil, errors.New("upstream unreachable"))
	resp := m.response(req.ResponseKind().(*kmsg.FetchResponse))
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("response %+v, want one topic with two partitions", resp.Topics)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.RecordBatches == nil || len(p.RecordBatches) != 0 {
			t.Errorf("failed partition %d (error %d): records %v, want empty and not null", p.Partition, p.ErrorCode, p.RecordBatches)
		}
	}
}
