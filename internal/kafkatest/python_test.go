package kafkatest_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

func TestPythonMetadata(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []kafkatest.Option
	}{
		{"PLAINTEXT", nil},
		{"SSL mutual", []kafkatest.Option{kafkatest.MutualTLS()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := kafkatest.New(t, append(tc.opts, kafkatest.Brokers(2))...)
			py := kafkatest.NewPython(t, c)
			topic := kafkatest.TopicName(t, "meta")
			c.CreateTopic(t, topic, 3, nil)

			m, err := py.Metadata(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if m.ClusterID != c.ID {
				t.Errorf("cluster id = %q, want %q", m.ClusterID, c.ID)
			}
			want := []kafkatest.Broker{{ID: 0, Addr: c.Addrs[0]}, {ID: 1, Addr: c.Addrs[1]}}
			if !slices.Equal(m.Brokers, want) {
				t.Errorf("brokers = %+v, want %+v", m.Brokers, want)
			}
			if len(m.Topics) != 1 || m.Topics[0].Name != topic || len(m.Topics[0].Partitions) != 3 || m.Topics[0].Err != "" {
				t.Fatalf("topics = %+v, want %s with 3 partitions", m.Topics, topic)
			}
			for i, p := range m.Topics[0].Partitions {
				if p.ID != int32(i) || (p.Leader != 0 && p.Leader != 1) || len(p.Replicas) != 2 {
					t.Errorf("partition %d = %+v, want a leader among 0-1 and 2 replicas", i, p)
				}
			}
		})
	}
}

// TestPythonGroupRoundTrip produces binary messages with Python, reads them
// with franz-go, consumes them in a Python consumer group and checks the
// offsets the group committed.
func TestPythonGroupRoundTrip(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(2))
	py := kafkatest.NewPython(t, c)
	topic := kafkatest.TopicName(t, "py")
	c.CreateTopic(t, topic, 2, map[string]string{"retention.ms": "-1"})

	ts := time.UnixMilli(1_700_000_000_123)
	in := []kafkatest.Message{
		{Partition: 0, Key: new("k0"), Value: new("\x00\x01\xfe\xff binary"), Timestamp: ts,
			Headers: []kafkatest.Header{{Key: "bin", Value: new("\xff\n")}, {Key: "null", Value: nil}, {Key: "empty", Value: new("")}}},
		{Partition: 1, Key: nil, Value: new(""), Timestamp: ts.Add(time.Millisecond)},
		{Partition: 0, Key: new(""), Value: nil, Timestamp: ts.Add(2 * time.Millisecond)},
		{Partition: 1, Key: new("k3"), Value: new("line\nbreak"), Timestamp: ts.Add(3 * time.Millisecond)},
		{Partition: 0, Key: new("k4"), Value: new("v4"), Timestamp: ts.Add(4 * time.Millisecond)},
	}
	for i := range in {
		in[i].Topic = topic
	}
	delivered, err := py.Produce(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	wantOffsets := []int64{0, 0, 1, 1, 2}
	want := make([]kafkatest.Message, len(in))
	for i, m := range in {
		m.Offset = wantOffsets[i]
		want[i] = m
	}
	assertMessages(t, delivered, want)
	byPartition := []kafkatest.Message{want[0], want[2], want[4], want[1], want[3]}
	assertMessages(t, records(c.ConsumeAll(t, topic)), byPartition)

	got, err := py.Consume(ctx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	assertMessages(t, got, byPartition)
	got, err = py.ConsumeRange(ctx(t), topic, 0, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	assertMessages(t, got, []kafkatest.Message{want[2]})

	// A group consumer stopping after 3 messages commits exactly after
	// each partition's last returned message; the next member of the
	// group resumes there.
	group := kafkatest.TopicName(t, "group")
	first, err := py.ConsumeGroup(ctx(t), group, []string{topic}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 3 {
		t.Fatalf("first ConsumeGroup returned %d messages, want 3", len(first))
	}
	committed := map[int32]int64{}
	for _, m := range first {
		committed[m.Partition] = m.Offset + 1
	}
	if got := c.CommittedOffsets(t, group); len(got) != 1 || !maps.Equal(got[topic], committed) {
		t.Fatalf("committed offsets = %v, want %s: %v (after %v)", got, topic, committed, first)
	}
	rest, err := py.ConsumeGroup(ctx(t), group, []string{topic}, 0)
	if err != nil {
		t.Fatal(err)
	}
	all := append(first, rest...)
	slices.SortFunc(all, func(a, b kafkatest.Message) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	assertMessages(t, all, byPartition)
	if got, want := c.CommittedOffsets(t, group), (map[int32]int64{0: 3, 1: 2}); !maps.Equal(got[topic], want) {
		t.Fatalf("committed offsets at the end = %v, want %s: %v", got, topic, want)
	}
}
