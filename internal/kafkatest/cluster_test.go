package kafkatest_test

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

func TestNewPair(t *testing.T) {
	p := kafkatest.NewPair(t)
	idShape := regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`) // Kafka's base64url UUID
	for _, tc := range []struct {
		c    *kafkatest.Cluster
		role string
	}{{p.Source, "source"}, {p.Target, "target"}} {
		c := tc.c
		if !idShape.MatchString(c.ID) {
			t.Errorf("%s: ID = %q, want a Kafka-style cluster id", tc.role, c.ID)
		}
		if c.Kfake == nil {
			t.Errorf("%s: Kfake is nil", tc.role)
		}
		want := config.Cluster{Role: tc.role, Bootstrap: c.Addrs, SecurityProtocol: config.Plaintext}
		if c.Config.Role != want.Role || !slices.Equal(c.Config.Bootstrap, want.Bootstrap) ||
			c.Config.SecurityProtocol != want.SecurityProtocol || c.Config.TLS != want.TLS || c.Config.SASL != want.SASL {
			t.Errorf("%s: Config = %+v, want %+v", tc.role, c.Config, want)
		}
		if len(c.Addrs) != 3 {
			t.Errorf("%s: %d addresses %v, want 3 (the default brokers)", tc.role, len(c.Addrs), c.Addrs)
		}
		m, err := c.Admin(t).BrokerMetadata(ctx(t))
		if err != nil {
			t.Fatalf("%s: metadata: %v", tc.role, err)
		}
		if m.Cluster != c.ID || len(m.Brokers) != 3 {
			t.Errorf("%s: metadata says cluster %q with %d brokers, want %q with 3", tc.role, m.Cluster, len(m.Brokers), c.ID)
		}
	}
	if p.Source.ID == p.Target.ID {
		t.Errorf("source and target share the cluster id %q", p.Source.ID)
	}
	if slices.Equal(p.Source.Addrs, p.Target.Addrs) {
		t.Errorf("source and target share addresses %v", p.Source.Addrs)
	}
}

func TestProduceConsumeAllRoundTrip(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(2))
	topic := kafkatest.TopicName(t, "orders")
	c.CreateTopic(t, topic, 3, map[string]string{"retention.ms": "-1"})
	old := time.UnixMilli(1_000_000_000_000) // 2001: retention.ms=-1 keeps it
	in := []*kgo.Record{
		{Topic: topic, Partition: 2, Key: []byte("k0"), Value: []byte("v0"), Timestamp: old},
		{Topic: topic, Partition: 0, Key: nil, Value: []byte("no key"),
			Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: nil}, {Key: "h3", Value: []byte{}}}},
		{Topic: topic, Partition: 2, Key: []byte{}, Value: nil},
		{Topic: topic, Partition: 2, Key: []byte("\x00\xff binary"), Value: []byte("\n\r\t")},
	}
	c.Produce(t, in...)
	if got := []int64{in[0].Offset, in[1].Offset, in[2].Offset, in[3].Offset}; !slices.Equal(got, []int64{0, 0, 1, 2}) {
		t.Fatalf("produced offsets = %v, want [0 0 1 2]", got)
	}
	want := records([]*kgo.Record{in[1], in[0], in[2], in[3]}) // partition, then offset
	if want[1].Timestamp.UnixMilli() != old.UnixMilli() {
		t.Fatalf("record 0 timestamp = %v, want the one produced", want[1].Timestamp)
	}
	assertMessages(t, records(c.ConsumeAll(t, topic)), want)
	assertMessages(t, records(c.ConsumeAllUncommitted(t, topic)), want)

	// Records produced after ConsumeAll listed the end offsets are not
	// waited for, and an empty topic reads as empty.
	empty := kafkatest.TopicName(t, "empty")
	c.CreateTopic(t, empty, 2, nil)
	if got := c.ConsumeAll(t, empty); len(got) != 0 {
		t.Errorf("ConsumeAll(empty topic) = %v, want nothing", records(got))
	}
}

func TestConsumeAllTransactions(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	topic := kafkatest.TopicName(t, "txn")
	c.CreateTopic(t, topic, 1, nil)
	cl := c.Client(t, kgo.TransactionalID(kafkatest.TopicName(t, "txid")),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := func(commit bool, values ...string) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if err := cl.ProduceSync(ctx(t), kgo.StringRecord(v)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx(t), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	// Offsets: a=0 b=1 marker=2 | x=3 marker=4 | c=5 marker=6. The log
	// ends with a marker, so reading to the end means seeing it.
	txn(true, "a", "b")
	txn(false, "x")
	txn(true, "c")
	values := func(rs []*kgo.Record) []string {
		var out []string
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%s@%d", r.Value, r.Offset))
		}
		return out
	}
	if got, want := values(c.ConsumeAll(t, topic)), []string{"a@0", "b@1", "c@5"}; !slices.Equal(got, want) {
		t.Errorf("ConsumeAll = %v, want %v", got, want)
	}
	if got, want := values(c.ConsumeAllUncommitted(t, topic)), []string{"a@0", "b@1", "x@3", "c@5"}; !slices.Equal(got, want) {
		t.Errorf("ConsumeAllUncommitted = %v, want %v", got, want)
	}
}

func TestCommitOffsets(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	topic := kafkatest.TopicName(t, "t")
	c.CreateTopic(t, topic, 2, nil)
	for i := range 5 {
		c.Produce(t, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte("v")})
	}
	group := kafkatest.TopicName(t, "group")
	if got := c.CommittedOffsets(t, group); len(got) != 0 {
		t.Fatalf("new group has offsets %v", got)
	}
	want := map[string]map[int32]int64{topic: {0: 3, 1: 1}}
	c.CommitOffsets(t, group, want)
	got := c.CommittedOffsets(t, group)
	if len(got) != 1 || !maps.Equal(got[topic], want[topic]) {
		t.Errorf("committed offsets = %v, want %v", got, want)
	}
}

func TestTopicName(t *testing.T) {
	t.Run("sub test/with spaces_and.dots", func(t *testing.T) {
		a, b := kafkatest.TopicName(t, "my.topic"), kafkatest.TopicName(t, "my.topic")
		re := regexp.MustCompile(`^my-topic-TestTopicName-sub-test-with-spaces-and-dots-[0-9a-f]{8}$`)
		if !re.MatchString(a) || !re.MatchString(b) {
			t.Errorf("TopicName = %q, %q, want matches of %s", a, b, re)
		}
		if a == b {
			t.Errorf("two calls both returned %q", a)
		}
	})
	long := kafkatest.TopicName(t, strings.Repeat("x", 300))
	if len(long) != 249 || !strings.HasPrefix(long, "xxx") {
		t.Errorf("TopicName(300 x) has length %d, want Kafka's maximum 249: %q", len(long), long)
	}
}

func TestDataDirRestart(t *testing.T) {
	dir := t.TempDir()
	p := kafkatest.NewPair(t, kafkatest.DataDir(dir), kafkatest.Brokers(1))
	topic := "kept"
	p.Source.CreateTopic(t, topic, 1, nil)
	p.Source.Produce(t, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v")})
	want := records(p.Source.ConsumeAll(t, topic))
	p.Source.Kfake.Close()
	p.Target.Kfake.Close()

	again := kafkatest.NewPair(t, kafkatest.DataDir(dir), kafkatest.Brokers(1))
	if again.Source.ID != p.Source.ID || again.Target.ID != p.Target.ID {
		t.Errorf("ids after restart = %q, %q; want the persisted %q, %q", again.Source.ID, again.Target.ID, p.Source.ID, p.Target.ID)
	}
	assertMessages(t, records(again.Source.ConsumeAll(t, topic)), want)
}

func TestExternal(t *testing.T) {
	real := kafkatest.NewPair(t, kafkatest.Brokers(1))
	t.Setenv(kafkatest.EnvSource, strings.Join(real.Source.Addrs, ","))
	t.Setenv(kafkatest.EnvTarget, " "+strings.Join(real.Target.Addrs, " , ")+" ")

	p := kafkatest.NewPair(t, kafkatest.External())
	if p.Source.Kfake != nil || p.Target.Kfake != nil {
		t.Fatal("External() with the environment set returned kfake clusters")
	}
	if p.Source.ID != real.Source.ID || p.Target.ID != real.Target.ID {
		t.Errorf("external ids = %q, %q; want %q, %q", p.Source.ID, p.Target.ID, real.Source.ID, real.Target.ID)
	}
	if !slices.Equal(p.Target.Config.Bootstrap, real.Target.Addrs) || p.Target.Config.Role != "target" {
		t.Errorf("external target Config = %+v, want role target and bootstrap %v", p.Target.Config, real.Target.Addrs)
	}
	topic := kafkatest.TopicName(t, "ext")
	p.Source.CreateTopic(t, topic, 1, nil)
	p.Source.Produce(t, &kgo.Record{Topic: topic, Value: []byte("via external")})
	assertMessages(t, records(real.Source.ConsumeAll(t, topic)), records(p.Source.ConsumeAll(t, topic)))

	skipped := t.Run("RequireKfake", func(t *testing.T) {
		p.Source.RequireKfake(t)
		t.Error("RequireKfake did not skip for an external cluster")
	})
	if !skipped {
		t.Error("RequireKfake subtest failed")
	}
	if kf := real.Source.RequireKfake(t); kf != real.Source.Kfake {
		t.Error("RequireKfake did not return the kfake cluster")
	}

	// Without External(), the environment is ignored.
	if c := kafkatest.New(t, kafkatest.Brokers(1)); c.Kfake == nil {
		t.Error("New without External() returned an external cluster")
	}

	r := record(t, func(tb testing.TB) { kafkatest.NewPair(tb, kafkatest.External(), kafkatest.TLS()) })
	if !strings.Contains(r.fatal, "External() cannot be combined with [TLS]") {
		t.Errorf("External()+TLS(): fatal = %q, want it to name the conflict", r.fatal)
	}
	t.Setenv(kafkatest.EnvTarget, strings.Join(real.Source.Addrs, ","))
	r = record(t, func(tb testing.TB) { kafkatest.NewPair(tb, kafkatest.External()) })
	if !strings.Contains(r.fatal, "are one cluster (id \""+real.Source.ID+"\")") {
		t.Errorf("both variables naming one cluster: fatal = %q, want it refused", r.fatal)
	}
	t.Setenv(kafkatest.EnvTarget, "")
	r = record(t, func(tb testing.TB) { kafkatest.NewPair(tb, kafkatest.External()) })
	if !strings.Contains(r.fatal, "set both KMIGRATE_TEST_SOURCE and KMIGRATE_TEST_TARGET") {
		t.Errorf("one variable set: fatal = %q, want it to ask for both", r.fatal)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(tb testing.TB)
		want string
	}{
		{"no brokers", func(tb testing.TB) { kafkatest.New(tb, kafkatest.Brokers(0)) }, "Brokers(0): need at least one broker"},
		{"bad mechanism", func(tb testing.TB) { kafkatest.New(tb, kafkatest.SASL("GSSAPI", "u", "p")) }, `unsupported SASL mechanism "GSSAPI"`},
		{"pair with one id", func(tb testing.TB) { kafkatest.NewPair(tb, kafkatest.ClusterID("x")) }, `ClusterID("x") would give both clusters the same id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := record(t, tc.fn)
			if !strings.Contains(r.fatal, tc.want) {
				t.Errorf("fatal = %q, want it to contain %q", r.fatal, tc.want)
			}
		})
	}
}
