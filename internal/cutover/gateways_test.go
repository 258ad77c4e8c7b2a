package cutover_test

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/cutover"
	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/status"
)

// gatewayProducer writes values 0, 1, 2... (record i to partition i%3)
// through a gateway, one at a time, until stopped; it keeps what was
// acknowledged and the errors.
type gatewayProducer struct {
	stop context.CancelFunc
	done chan struct{}

	mu    sync.Mutex
	acked []int
	errs  []error
}

func produceThrough(t *testing.T, addr, topic string) *gatewayProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &gatewayProducer{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer cl.Close()
		for i := 0; ctx.Err() == nil; i++ {
			err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: []byte(strconv.Itoa(i))}).FirstErr()
			p.mu.Lock()
			if err == nil {
				p.acked = append(p.acked, i)
			} else if ctx.Err() == nil {
				p.errs = append(p.errs, err)
			}
			p.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-p.done })
	return p
}

func (p *gatewayProducer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// TestPromoteHoldsGateways: kmigrate promote while a gateway serves the
// producers of a topic switches it through the gateway: the producer
// writing through it all along sees no error, the source's records stop
// at the switch, and the target holds every acknowledged record once per
// partition in order (the copies, then the natives). Source writes and
// lag are not preconditions then: the switch holds and drains them.
func TestPromoteHoldsGateways(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	const topic = "orders"
	pair.Source.CreateTopic(t, topic, 3, map[string]string{"retention.ms": "-1"})
	all, _ := config.NewSelection(nil, nil)
	m := config.DefaultMirror()
	m.TransactionInterval = 20 * time.Millisecond
	cfg := &config.Config{
		Name: "m1", Source: pair.Source.Config, Target: pair.Target.Config,
		Topics: config.Topics{Selection: all, SyncInterval: time.Second},
		Groups: config.Groups{Selection: all, Sync: true, SyncInterval: config.MinGroupSyncInterval, MirrorWait: 10 * time.Second},
		Mirror: m,
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, run := start(t, cfg, log)
	runCtx, stopMirror := context.WithCancel(t.Context())
	mirrored := make(chan error, 1)
	go func() { mirrored <- run.Run(runCtx) }()
	t.Cleanup(func() { stopMirror(); <-mirrored })
	waitFor(t, "the mirror's state", func() bool {
		snap, err := h.LoadState(t.Context())
		return err == nil && snap.Meta != nil && len(snap.Meta.Topics) == 1
	})

	gw, err := gateway.New(gateway.Options{
		Listen: "127.0.0.1:0", ID: "gw-a", Source: &pair.Source.Config, Target: &pair.Target.Config,
		Migration: "m1", Topics: []gateway.Topic{{Source: topic, Target: topic}},
		PollInterval: 200 * time.Millisecond, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	gwCtx, stopGateway := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- gw.Run(gwCtx) }()
	t.Cleanup(func() { stopGateway(); <-served })
	p := produceThrough(t, gw.Addr(), topic)
	waitFor(t, "writes through the gateway and its heartbeat", func() bool { return p.count() >= 150 && liveGateways(t, pair) == 1 })

	res, err := cutover.Promote(t.Context(), h, []string{topic}, false, status.Options{Quiet: time.Second, Sample: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("promote with a gateway serving the producers: %v", err)
	}
	if !slices.Equal(res.Promoted, []string{topic}) || !slices.Equal(res.Gateways, []string{"gw-a"}) || len(res.PauseMillis) != 1 || res.Forced || res.Phase != state.PhaseDone {
		t.Errorf("promote: %+v", res)
	}
	waitFor(t, "the gateway to write to the target", func() bool { side, _ := gw.Route(topic); return side == gateway.Target })
	after := p.count()
	waitFor(t, "writes after the switch", func() bool { return p.count() >= after+150 })
	p.stop()
	<-p.done
	if len(p.errs) > 0 {
		t.Fatalf("the producer through the gateway got %d errors, first: %v", len(p.errs), p.errs[0])
	}
	want := map[int32][]string{}
	for _, i := range p.acked {
		want[int32(i%3)] = append(want[int32(i%3)], strconv.Itoa(i))
	}
	src, tgt := byPartition(pair.Source.ConsumeAll(t, topic)), byPartition(pair.Target.ConsumeAll(t, topic))
	for part := range int32(3) {
		if !slices.Equal(tgt[part], want[part]) {
			t.Errorf("target partition %d: %d records, want the %d acknowledged once each in order", part, len(tgt[part]), len(want[part]))
		}
		if n := len(src[part]); n == 0 || n == len(want[part]) || !slices.Equal(src[part], want[part][:n]) {
			t.Errorf("source partition %d: %d records, want a strict prefix of the %d acknowledged", part, n, len(want[part]))
		}
	}
	snap, err := h.LoadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Promoted[topic]; !ok || snap.Phase.Phase != state.PhaseDone {
		t.Errorf("state: promoted %+v, phase %+v", snap.Promoted, snap.Phase)
	}
}

// liveGateways reads migration m1's state for its live gateways.
func liveGateways(t *testing.T, pair *kafkatest.Pair) int {
	t.Helper()
	opts, err := cluster.Opts(&pair.Target.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := gateway.NewStateStore(pair.Target.Client(t), "m1", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := st.Read(t.Context())
	if err != nil {
		return 0
	}
	return len(gateway.LiveGateways(v, time.Now()))
}

func byPartition(rs []*kgo.Record) map[int32][]string {
	out := map[int32][]string{}
	for _, r := range rs {
		out[r.Partition] = append(out[r.Partition], string(r.Value))
	}
	return out
}
