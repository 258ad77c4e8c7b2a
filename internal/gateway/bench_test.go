package gateway_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkProduce compares an idempotent franz-go producer (acks=all,
// 1 KiB records, 3 partitions, timed until every record is acknowledged) writing to the source directly with the
// same producer writing through the gateway. kfake runs in process, so
// the numbers compare the paths, not a real cluster.
func BenchmarkProduce(b *testing.B) {
	for _, via := range []string{"direct", "gateway"} {
		b.Run(via, func(b *testing.B) {
			const name, topic = "m1", "orders"
			pair := newPair(b, topic, 3)
			var cl *kgo.Client
			if via == "direct" {
				cl = pair.Source.Client(b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			} else {
				opts := gatewayOptions(b, pair, name, topic)
				opts.Logger = slog.New(slog.DiscardHandler)
				cl = client(b, startGateway(b, pair, opts))
			}
			value := make([]byte, 1024)
			ctx := context.Background()
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			b.ResetTimer()
			var failed atomic.Pointer[error]
			for i := range b.N {
				cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						failed.Store(&err)
					}
				})
			}
			// The records are acknowledged within the timed part.
			if err := cl.Flush(ctx); err != nil || failed.Load() != nil {
				b.Fatalf("flush: %v, produce: %v", err, failed.Load())
			}
		})
	}
}
