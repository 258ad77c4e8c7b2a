package kafkatest_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// echoServer accepts connections on loopback and echoes what it reads,
// until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func TestFaultDialer(t *testing.T) {
	addr := echoServer(t)
	fd := kafkatest.NewFaultDialer()
	c, err := fd.DialContext(ctx(t), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip := func(c net.Conn) (time.Duration, error) {
		start := time.Now()
		if _, err := c.Write([]byte("ping")); err != nil {
			return 0, err
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			return 0, err
		}
		if string(buf) != "ping" {
			t.Fatalf("echo %q, want ping", buf)
		}
		return time.Since(start), nil
	}
	if _, err := roundTrip(c); err != nil {
		t.Fatalf("round trip: %v", err)
	}

	fd.SetLatency(50 * time.Millisecond)
	if d, err := roundTrip(c); err != nil || d < 100*time.Millisecond {
		t.Errorf("round trip with 50ms latency per read and write: %v, %v; want at least 100ms", d, err)
	}
	fd.SetLatency(0)

	if n := fd.DropAll(); n != 1 {
		t.Errorf("DropAll closed %d connections, want 1", n)
	}
	if _, err := roundTrip(c); err == nil {
		t.Error("round trip on a dropped connection succeeded")
	}

	fd.RefuseFor(time.Hour)
	if _, err := fd.DialContext(ctx(t), "tcp", addr); !errors.Is(err, kafkatest.ErrRefused) {
		t.Errorf("dial while refusing: %v, want ErrRefused", err)
	}
	fd.RefuseFor(0)
	c2, err := fd.DialContext(ctx(t), "tcp", addr)
	if err != nil {
		t.Fatalf("dial after refusing ended: %v", err)
	}
	c2.Close()
	if n := fd.DropAll(); n != 0 {
		t.Errorf("DropAll after every connection was closed closed %d, want 0", n)
	}
	if got, want := fd.Stats(), (kafkatest.FaultStats{Dials: 2, Refused: 1, Dropped: 1}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// TestFaultDialerClient checks that a franz-go client recovers from dropped
// connections and refused dials on a kfake cluster, whose brokers it
// reaches at their advertised addresses through the dialer.
func TestFaultDialerClient(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	c.CreateTopic(t, "t", 1, nil)
	fd := kafkatest.NewFaultDialer()
	// A short metadata age: after a failed produce, franz-go waits for a
	// metadata refresh, which it otherwise spaces 5s apart.
	cl := c.Client(t, kgo.Dialer(fd.DialContext), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MetadataMinAge(50*time.Millisecond))
	for i := range 3 {
		if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "t", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		fd.DropAll()
		fd.RefuseFor(100 * time.Millisecond)
	}
	if got := len(c.ConsumeAll(t, "t")); got != 3 {
		t.Errorf("%d records, want 3", got)
	}
	if st := fd.Stats(); st.Dropped < 3 {
		t.Errorf("stats %+v: want at least 3 dropped connections", st)
	}

	// A lost produce response: the broker wrote the record, the client
	// retries, and idempotence keeps it to one copy.
	fd.LoseResponses(int16(kmsg.Produce), 1)
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "t", Value: []byte{3}}).FirstErr(); err != nil {
		t.Fatalf("produce with a lost response: %v", err)
	}
	if got := len(c.ConsumeAll(t, "t")); got != 4 {
		t.Errorf("%d records, want 4", got)
	}
	if st := fd.Stats(); st.Lost != 1 {
		t.Errorf("stats %+v: want 1 lost response", st)
	}
}
