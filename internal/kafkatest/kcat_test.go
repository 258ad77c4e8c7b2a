package kafkatest_test

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

func TestKcatMetadataTLS(t *testing.T) {
	c := kafkatest.New(t, kafkatest.TLS(), kafkatest.Brokers(3))
	k := kafkatest.NewKcat(t, c)
	topic := kafkatest.TopicName(t, "meta")
	c.CreateTopic(t, topic, 4, nil)

	m, err := k.Metadata(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for i, b := range m.Brokers {
		if b.ID != int32(i) {
			t.Errorf("broker %d has id %d", i, b.ID)
		}
		addrs = append(addrs, b.Addr)
	}
	if !slices.Equal(addrs, c.Addrs) {
		t.Errorf("kcat sees brokers %v, want %v", addrs, c.Addrs)
	}
	if len(m.Topics) != 1 || m.Topics[0].Name != topic || len(m.Topics[0].Partitions) != 4 {
		t.Fatalf("kcat sees topics %+v, want %s with 4 partitions", m.Topics, topic)
	}
	for i, p := range m.Topics[0].Partitions {
		if p.ID != int32(i) || p.Leader < 0 || p.Leader > 2 || len(p.Replicas) != 3 {
			t.Errorf("partition %d: %+v, want a leader among brokers 0-2 and 3 replicas", i, p)
		}
	}
}

func TestKcatRoundTrip(t *testing.T) {
	c := kafkatest.New(t, kafkatest.MutualTLS(), kafkatest.Brokers(2))
	k := kafkatest.NewKcat(t, c)

	t.Run("kcat produces, franz-go reads", func(t *testing.T) {
		topic := kafkatest.TopicName(t, "from-kcat")
		c.CreateTopic(t, topic, 2, nil)
		in := []kafkatest.Message{
			{Key: new("k1"), Value: new("v1"), Headers: []kafkatest.Header{{Key: "trace", Value: new("abc")}, {Key: "null", Value: nil}}},
			{Key: new("k2"), Value: new("has\ttab and = sign"), Headers: []kafkatest.Header{{Key: "trace", Value: new("abc")}, {Key: "null", Value: nil}}},
			{Key: nil, Value: new("no key")},
			{Key: new(""), Value: new("empty key")},
			{Key: new("tombstone"), Value: nil},
			{Key: nil, Value: nil, Headers: []kafkatest.Header{{Key: "empty", Value: new("")}}},
			{Key: new("k7"), Value: new("")},
		}
		if err := k.Produce(ctx(t), topic, 1, in); err != nil {
			t.Fatal(err)
		}
		want := make([]kafkatest.Message, len(in))
		for i, m := range in {
			m.Topic, m.Partition, m.Offset = topic, 1, int64(i)
			want[i] = m
		}
		assertMessages(t, noTimestamps(records(c.ConsumeAll(t, topic))), want)
	})

	t.Run("franz-go produces, kcat reads", func(t *testing.T) {
		topic := kafkatest.TopicName(t, "to-kcat")
		c.CreateTopic(t, topic, 3, nil)
		in := []*kgo.Record{
			{Topic: topic, Partition: 2, Key: []byte("a"), Value: []byte("1"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}, {Key: "n"}}},
			{Topic: topic, Partition: 0, Key: nil, Value: []byte("2")},
			{Topic: topic, Partition: 2, Key: []byte(""), Value: nil},
		}
		c.Produce(t, in...)
		want := records([]*kgo.Record{in[1], in[0], in[2]})
		got, err := k.Consume(ctx(t), topic)
		if err != nil {
			t.Fatal(err)
		}
		assertMessages(t, got, want) // timestamps included: kcat reports them
		got, err = k.Consume(ctx(t), topic, 2)
		if err != nil {
			t.Fatal(err)
		}
		assertMessages(t, got, want[1:])
	})
}

func TestKcatConsumeGroup(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	k := kafkatest.NewKcat(t, c)
	topic := kafkatest.TopicName(t, "grp")
	c.CreateTopic(t, topic, 1, nil)
	for _, v := range []string{"a", "b", "c", "d", "e"} {
		c.Produce(t, &kgo.Record{Topic: topic, Value: []byte(v)})
	}
	group := kafkatest.TopicName(t, "group")
	values := func(msgs []kafkatest.Message) []string {
		var out []string
		for _, m := range msgs {
			out = append(out, *m.Value)
		}
		return out
	}

	first, err := k.ConsumeGroup(ctx(t), group, []string{topic}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := values(first); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("first ConsumeGroup = %v, want [a b c]", got)
	}
	if got, want := c.CommittedOffsets(t, group), (map[int32]int64{0: 3}); !maps.Equal(got[topic], want) {
		t.Fatalf("committed after 3 messages = %v, want %s: %v", got, topic, want)
	}

	rest, err := k.ConsumeGroup(ctx(t), group, []string{topic}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := values(rest); !slices.Equal(got, []string{"d", "e"}) {
		t.Fatalf("second ConsumeGroup = %v, want [d e] (resuming from the commit)", got)
	}
	if got, want := c.CommittedOffsets(t, group), (map[int32]int64{0: 5}); !maps.Equal(got[topic], want) {
		t.Fatalf("committed at the end = %v, want %s: %v", got, topic, want)
	}
}

func TestKcatProduceRefusesWhatItCannotCarry(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	k := kafkatest.NewKcat(t, c)
	topic := kafkatest.TopicName(t, "refused")
	c.CreateTopic(t, topic, 1, nil)
	for _, tc := range []struct {
		name string
		msg  kafkatest.Message
	}{
		{"newline", kafkatest.Message{Key: new("k"), Value: new("two\nlines")}},
		{"null key, empty value", kafkatest.Message{Key: nil, Value: new("")}},
		{"empty key, null value", kafkatest.Message{Key: new(""), Value: nil}},
		{"= in header name", kafkatest.Message{Value: new("v"), Headers: []kafkatest.Header{{Key: "a=b", Value: new("c")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok := kafkatest.Message{Key: new("fine"), Value: new("fine")}
			err := k.Produce(ctx(t), topic, 0, []kafkatest.Message{ok, tc.msg})
			if !errors.Is(err, kafkatest.ErrKcatCannotCarry) {
				t.Errorf("Produce = %v, want ErrKcatCannotCarry", err)
			}
		})
	}
	if got := c.ConsumeAll(t, topic); len(got) != 0 {
		t.Errorf("refused calls wrote %v, want nothing", records(got))
	}
}
