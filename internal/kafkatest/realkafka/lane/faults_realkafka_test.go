package lane_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migrate"
	kmigration "github.com/kmigrate/kmigrate/internal/migration"
)

// TestMirrorNetworkFaults runs the mirror in process from Kafka 3.9
// (ZooKeeper) to Kafka 4.x (transactions v2) through
// kafkatest.FaultDialer on both sides: responses lost after the broker
// handled the request (two source Fetches, two target Produces, one
// EndTxn: a commit the mirror cannot know happened), and every connection
// of both clients dropped each time the copy advances, three times. The
// copy must end exact, record by record, and verify must pass.
func TestMirrorNetworkFaults(t *testing.T) {
	p := pair(t, source39, target4)
	topic := kafkatest.TopicName(t, "faults")
	p.Source.CreateTopic(t, topic, 3, map[string]string{"retention.ms": "-1"})
	const records = 6000
	var recs []*kgo.Record
	for i := range records {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: fmt.Appendf(nil, "k%d", i), Value: make([]byte, 100+i%300)})
	}
	p.Source.Produce(t, recs...)

	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\n", topic)) // for verify
	cfg := p.Config(t, m.name(t))
	var err error
	if cfg.Topics.Selection, err = config.NewSelection([]string{topic}, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Groups.Selection, err = config.NewSelection([]string{"no-group-" + topic}, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Mirror.Until = config.UntilEnd
	cfg.Mirror.TransactionMaxBytes = 64 << 10 // many transactions, so that faults land mid-copy
	src, tgt := kafkatest.NewFaultDialer(), kafkatest.NewFaultDialer()
	src.LoseResponses(int16(kmsg.Fetch), 2)
	tgt.LoseResponses(int16(kmsg.Produce), 2)
	tgt.LoseResponses(int16(kmsg.EndTxn), 1)
	h := p.Open(t, "", cfg, kmigration.ClientOpts([]kgo.Opt{kgo.Dialer(src.DialContext)}, []kgo.Opt{kgo.Dialer(tgt.DialContext)}))
	r, err := migrate.New(t.Context(), h, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	deleteAtCleanup(t, p.Target, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // hang guard
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	drops := dropOnProgress(ctx, t, done, kadm.NewClient(p.Target.Client(t, kgo.MetadataMinAge(50*time.Millisecond))), topic, 3, src, tgt)
	if err := <-done; err != nil {
		t.Fatalf("mirror through faults: %v (source dialer %+v, target dialer %+v)", err, src.Stats(), tgt.Stats())
	}
	t.Logf("copied through %d connection drops; source dialer %+v, target dialer %+v", drops, src.Stats(), tgt.Stats())
	if n := src.PendingLosses() + tgt.PendingLosses(); n > 0 {
		t.Errorf("%d planned response losses never happened: the faults did not hit the copy", n)
	}
	sameRecords(t, consumeSettled(t, p.Source, topic), consumeSettled(t, p.Target, topic))
	if out := mustRun(t, m.args("verify")...); !regexp.MustCompile(`\bOK\b`).MatchString(out) {
		t.Errorf("verify output:\n%s", out)
	}
}

// dropOnProgress drops every connection of the dialers each time topic's
// end offsets on the target grow, up to times times, until the run ends
// (its result is put back on done). It returns the number of drops.
func dropOnProgress(ctx context.Context, t *testing.T, done chan error, adm *kadm.Client, topic string, times int, ds ...*kafkatest.FaultDialer) int {
	t.Helper()
	drops, last := 0, int64(0)
	for drops < times {
		select {
		case err := <-done:
			done <- err
			return drops
		case <-ctx.Done():
			return drops
		case <-time.After(20 * time.Millisecond):
		}
		if end := endOffset(t, adm, topic); end > last {
			last = end
			for _, d := range ds {
				d.DropAll()
			}
			drops++
		}
	}
	return drops
}
