package realkafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// TestStartVersions starts one single-broker cluster of each version the
// lane uses and checks what a client sees: the brokers, and a produced
// record read back.
func TestStartVersions(t *testing.T) {
	for _, v := range []string{realkafka.ZooKeeperVersion, realkafka.KRaftVersion} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			c := realkafka.StartT(t, realkafka.Config{Version: v, Name: "v" + v})
			t.Logf("Kafka %s (KRaft %v) serving on %s after %v", v, c.KRaft(), c.Bootstrap(), time.Since(start).Round(time.Millisecond))
			roundTrip(t, c, "hello")
		})
	}
}

func roundTrip(t *testing.T, c *realkafka.Cluster, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "v" {
		t.Fatalf("read back %d records, want the one produced", len(recs))
	}
}
