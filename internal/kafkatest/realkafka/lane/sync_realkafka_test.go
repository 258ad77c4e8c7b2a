package lane_test

import (
	"context"
	"fmt"
	"maps"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestGroupSyncContinuous runs a continuous mirror between Kafka 4.x
// clusters while a consumer group, classic or KIP-848, stays active on the
// source with committed offsets: the mirror's group sync must commit the
// same positions on the target (a fresh target topic without transactions
// keeps offsets), and the mirror must stop cleanly on SIGTERM.
func TestGroupSyncContinuous(t *testing.T) {
	for _, proto := range []string{"classic", "consumer"} {
		t.Run(proto, func(t *testing.T) {
			p := pair(t, source4, target4)
			topic, group := kafkatest.TopicName(t, "orders"), kafkatest.TopicName(t, "synced")
			seedOrders(t, p.Source, topic, 2, 100)
			opts := []kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
			if proto == "consumer" {
				opts = append(opts, kip848...)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cl := p.Source.Client(t, opts...)
			var got []*kgo.Record
			for len(got) < 60 {
				fs := cl.PollRecords(ctx, 60-len(got))
				if err := fs.Err(); err != nil {
					t.Fatal(err)
				}
				got = append(got, fs.Records()...)
			}
			if err := cl.CommitRecords(ctx, got...); err != nil {
				t.Fatal(err)
			}
			want := p.Source.CommittedOffsets(t, group)[topic]
			if groupType(t, p.Source, group) != proto {
				t.Fatalf("group %s is not a %s group on the source", group, proto)
			}

			m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\ngroups:\n  include: [%s]\n  sync_interval: 1s\n", topic, group))
			cmd, out, done := startMirror(t, m.args("mirror"))
			deleteAtCleanup(t, p.Target, topic)
			var last map[int32]int64
			for !maps.Equal(last, want) {
				select {
				case err := <-done:
					t.Fatalf("the continuous mirror ended: %v\n%s", err, out)
				case <-ctx.Done():
					t.Fatalf("the target offsets of %s stayed %v, want %v (the source's, with the member still active there)\n%s", group, last, want, out)
				case <-time.After(250 * time.Millisecond):
				}
				last = p.Target.CommittedOffsets(t, group)[topic]
			}
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("mirror after SIGTERM: %v\n%s", err, out)
				}
			case <-ctx.Done():
				t.Fatalf("mirror did not stop on SIGTERM\n%s", out)
			}
			cl.Close()
		})
	}
}
