package gateway_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestRetriesDeduplicated loses the responses to three produce requests
// between the client and the gateway: the client cannot know they were
// written and retries them with the same sequence numbers; the gateway
// answers the retries from the first writes, so each record is on the
// source exactly once and the application sees no error.
func TestRetriesDeduplicated(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	gw := startGateway(t, pair, gatewayOptions(t, pair, name, topic))
	fd := kafkatest.NewFaultDialer()
	cl := client(t, gw, kgo.Dialer(fd.DialContext))
	produceSync(t, cl, topic, 0, 3)
	fd.LoseResponses(kmsg.Produce.Int16(), 3)
	for i := 3; i < 12; i++ {
		produceSync(t, cl, topic, i, i+1)
	}
	if n := fd.Stats().Lost; n != 3 {
		t.Fatalf("%d responses lost, want 3", n)
	}
	assertValues(t, "source", pair.Source.ConsumeAll(t, topic), 0, 12, -1)
	assertValues(t, "through the gateway", consumeThrough(t, gw, topic, 12), 0, 12, -1)
	if st := gw.Stats(); st.Duplicates != 3 || st.SourceRecords != 12 {
		t.Errorf("stats: %d duplicates, %d source records; want 3, 12", st.Duplicates, st.SourceRecords)
	}
}

// rawRequest sends one request with a v1 header (v2 when flexible) on c
// and returns the response body after the correlation id, or the read
// error.
func rawRequest(t *testing.T, c net.Conn, req kmsg.Request) ([]byte, error) {
	t.Helper()
	b := []byte{0, 0, 0, 0}
	b = kbin.AppendInt16(b, req.Key())
	b = kbin.AppendInt16(b, req.GetVersion())
	b = kbin.AppendInt32(b, 1)
	b = kbin.AppendNullableString(b, nil)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, err
	}
	resp := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		return nil, err
	}
	return resp[4:], nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRefusals: a version the gateway does not speak, an API it does not
// implement, a transactional producer and a topic outside the migration
// each get a clear answer, and the gateway keeps serving.
func TestRefusals(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	pair.Source.CreateTopic(t, "payments", 1, nil)
	gw := startGateway(t, pair, gatewayOptions(t, pair, name, topic))

	c := dial(t, gw.Addr())
	body, err := rawRequest(t, c, &kmsg.ApiVersionsRequest{Version: 99})
	if err != nil {
		t.Fatalf("ApiVersions v99: %v", err)
	}
	av := kmsg.ApiVersionsResponse{Version: 0}
	if err := av.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	var keys []int16
	for _, k := range av.ApiKeys {
		keys = append(keys, k.ApiKey)
	}
	if av.ErrorCode != kerr.UnsupportedVersion.Code || !slices.Equal(keys, []int16{0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 17, 18, 22, 36}) {
		t.Errorf("ApiVersions v99: error %d, keys %v; want UNSUPPORTED_VERSION, [0 1 2 3 8 9 10 11 12 13 14 17 18 22 36]", av.ErrorCode, keys)
	}

	txn := "tx"
	body, err = rawRequest(t, c, &kmsg.InitProducerIDRequest{Version: 0, TransactionalID: &txn, TransactionTimeoutMillis: 1000})
	if err != nil {
		t.Fatalf("InitProducerId: %v", err)
	}
	ip := kmsg.InitProducerIDResponse{Version: 0}
	if err := ip.ReadFrom(body); err != nil || ip.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Errorf("transactional InitProducerId: code %d (%v), want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", ip.ErrorCode, err)
	}

	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 4
	if _, err := rawRequest(t, c, ct); !errors.Is(err, io.EOF) {
		t.Errorf("CreateTopics: %v, want the connection closed (EOF)", err)
	}

	cl := client(t, gw)
	err = cl.ProduceSync(t.Context(), &kgo.Record{Topic: "payments", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("produce to a topic outside the migration: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	produceSync(t, cl, topic, 0, 6)
	assertValues(t, "source", pair.Source.ConsumeAll(t, topic), 0, 6, -1)
	if got := pair.Source.ConsumeAll(t, "payments"); len(got) != 0 {
		t.Errorf("payments holds %d records, want none", len(got))
	}
}

// consumeThrough reads n records of topic through the gateway (Fetch,
// ListOffsets and Metadata), from the start.
func consumeThrough(t *testing.T, gw *gateway.Server, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := client(t, gw, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records through the gateway: %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}
