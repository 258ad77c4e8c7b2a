package gateway_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/state"
)

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var noRetention = map[string]string{"retention.ms": "-1"}

// newPair starts a one-broker source and target with topic (n partitions)
// on both.
func newPair(t testing.TB, topic string, n int32) *kafkatest.Pair {
	t.Helper()
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, topic, n, noRetention)
	pair.Target.CreateTopic(t, topic, n, noRetention)
	return pair
}

// startMirror runs a continuous exactly-once mirror of topics as migration
// name; it returns a channel that receives Run's error (the mirror exits
// on its own once every topic is promoted). The mirror is stopped when the
// test ends.
func startMirror(t testing.TB, pair *kafkatest.Pair, name string, topics ...string) <-chan error {
	t.Helper()
	settings := config.DefaultMirror()
	settings.TransactionInterval = 50 * time.Millisecond
	var ts []mirror.Topic
	for _, tp := range topics {
		ts = append(ts, mirror.Topic{Source: tp, Target: tp})
	}
	groups, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mirror.New(mirror.Options{
		Name: name, Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID,
		Topics: ts, Groups: groups, Settings: settings, StateReplicationFactor: -1,
		Logger: logger(t).With("component", "mirror"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return runInBackground(t, m.Run)
}

// runInBackground runs run until the test ends; the returned channel
// receives its error.
func runInBackground(t testing.TB, run func(context.Context) error) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		done <- run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return done
}

// ensureState creates migration name's state topic, as the mirror does.
func ensureState(t testing.TB, pair *kafkatest.Pair, name string) {
	t.Helper()
	if _, err := state.Ensure(t.Context(), pair.Target.Admin(t), state.TopicName(name), -1); err != nil {
		t.Fatal(err)
	}
}

// gatewayOptions returns the options of a gateway in front of pair for
// migration name, serving topics under the same names.
func gatewayOptions(t testing.TB, pair *kafkatest.Pair, name string, topics ...string) gateway.Options {
	t.Helper()
	var ts []gateway.Topic
	for _, tp := range topics {
		ts = append(ts, gateway.Topic{Source: tp, Target: tp})
	}
	return gateway.Options{
		Listen: "127.0.0.1:0", Source: &pair.Source.Config, Target: &pair.Target.Config,
		Migration: name, Topics: ts, PollInterval: 200 * time.Millisecond,
		SwitchTimeout: 30 * time.Second, Logger: logger(t).With("component", "gateway"),
	}
}

// startGateway builds and runs a gateway until the test ends. It creates
// the migration's state topic first (the mirror does, when one runs): a
// gateway serves only a migration that has one.
func startGateway(t testing.TB, pair *kafkatest.Pair, opts gateway.Options) *gateway.Server {
	t.Helper()
	ensureState(t, pair, opts.Migration)
	gw, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	runInBackground(t, func(ctx context.Context) error {
		err := gw.Run(ctx)
		if err != nil {
			t.Errorf("gateway Run: %v", err)
		}
		return err
	})
	return gw
}

// client returns a franz-go client (idempotent by default) bootstrapped
// from the gateway, partitioning manually.
func client(t testing.TB, gw *gateway.Server, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return clientTo(t, gw.Addr(), opts...)
}

// clientTo is client for a gateway at addr.
func clientTo(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// A retriable produce error makes the client refresh metadata
		// first, at most every MetadataMinAge (5s by default).
		kgo.MetadataMinAge(50 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// stateStore returns the state store of migration name on pair's target,
// closed when the test ends.
func stateStore(t testing.TB, pair *kafkatest.Pair, name string) *gateway.StateStore {
	t.Helper()
	cl := pair.Target.Client(t)
	opts, err := cluster.Opts(&pair.Target.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := gateway.NewStateStore(cl, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// gatedStore is a Store whose write of a promotion waits until the test
// opens gate, after telling it (promoting) that the switch reached the
// record: every gateway holds the topic and the mirror has no lag.
type gatedStore struct {
	gateway.Store
	promoting chan struct{}
	gate      chan struct{}
}

func (g *gatedStore) Write(ctx context.Context, records ...*kgo.Record) error {
	for _, r := range records {
		if strings.HasPrefix(string(r.Key), "promoted/") {
			close(g.promoting)
			select {
			case <-g.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return g.Store.Write(ctx, records...)
}

// readState reads migration name's state from pair's target.
func readState(t testing.TB, pair *kafkatest.Pair, name string) *gateway.View {
	t.Helper()
	v, err := stateStore(t, pair, name).Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustAtoi(t testing.TB, b []byte) int {
	t.Helper()
	n, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatalf("value %q: %v", b, err)
	}
	return n
}

// heldSwitch runs a promotion of topic through gw (whose store is gated)
// while write runs: write starts once the switch holds the topic, and the
// promotion is recorded only after the gateway has received at least one
// produce request from it, so the writer's records are held across the
// switch and land on the target. It returns the switch's pause.
func heldSwitch(t *testing.T, gw *gateway.Server, gated *gatedStore, topic string, write func() error) time.Duration {
	t.Helper()
	type outcome struct {
		sw  *gateway.Switch
		err error
	}
	switched := make(chan outcome, 1)
	go func() {
		sw, err := gw.Promote(context.WithoutCancel(t.Context()), topic)
		switched <- outcome{sw, err}
	}()
	<-gated.promoting
	before := gw.Stats().Requests[kmsg.Produce.Int16()]
	wrote := make(chan error, 1)
	go func() { wrote <- write() }()
	waitFor(t, func() bool { return gw.Stats().Requests[kmsg.Produce.Int16()] > before })
	close(gated.gate)
	out := <-switched
	if out.err != nil {
		t.Fatalf("Promote: %v", out.err)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("writing across the switch: %v", err)
	}
	return out.sw.Pause
}

// gatedGateway starts a gateway for pair whose promotion records wait for
// the test (see gatedStore).
func gatedGateway(t *testing.T, pair *kafkatest.Pair, name, topic string) (*gateway.Server, *gatedStore) {
	t.Helper()
	opts := gatewayOptions(t, pair, name, topic)
	gated := &gatedStore{Store: stateStore(t, pair, name), promoting: make(chan struct{}), gate: make(chan struct{})}
	opts.Store = gated
	return startGateway(t, pair, opts), gated
}
