package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/mirror"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestGatewayCommand runs kmigrate gateway in front of a mirrored pair
// (the command is not registered on the root yet): a producer writes
// through it to the source, kmigrate gateway promote switches the topic
// over HTTP, and the next writes land on the target.
func TestGatewayCommand(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	pair.Source.CreateTopic(t, "orders", 1, nil)
	pair.Target.CreateTopic(t, "orders", 1, nil)
	name := migration.DefaultName(pair.Source.ID, pair.Target.ID)
	settings := config.DefaultMirror()
	settings.TransactionInterval = 50 * time.Millisecond
	groups, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mirror.New(mirror.Options{
		Name: name, Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID, Groups: groups, Settings: settings,
		Topics: []mirror.Topic{{Source: "orders", Target: "orders"}}, StateReplicationFactor: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() { defer wg.Done(); _ = m.Run(ctx) }()
	cfg := &config.Config{Source: pair.Source.Config, Target: pair.Target.Config}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) { // polling for the mirror's state
		if _, _, err := gateway.Resolve(ctx, cfg, slog.New(slog.DiscardHandler)); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the mirror wrote no state: %v", err)
		}
	}

	listen, httpAddr := freeAddr(t), freeAddr(t)
	var out bytes.Buffer
	e := &env{ctx: ctx, stdout: &out, stderr: &out, lookupEnv: os.LookupEnv, logger: slog.New(slog.DiscardHandler)}
	cmd := e.gatewayCommand()
	cmd.SetArgs([]string{"--source", pair.Source.Addrs[0], "--target", pair.Target.Addrs[0],
		"--listen", listen, "--http", httpAddr, "--poll-interval", "200ms"})
	done := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); done <- cmd.ExecuteContext(ctx) }()

	cl, err := kgo.NewClient(kgo.SeedBrokers(listen), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce through the gateway: %v", err)
	}
	var pout bytes.Buffer
	pe := &env{ctx: ctx, stdout: &pout, stderr: &pout, logger: slog.New(slog.DiscardHandler)}
	promote := pe.gatewayPromoteCommand()
	promote.SetArgs([]string{"--http", httpAddr, "--topic", "orders"})
	if err := promote.ExecuteContext(ctx); err != nil || !strings.HasPrefix(pout.String(), "orders: writes go to the target; writes were paused ") {
		t.Fatalf("gateway promote: %v, output %q", err, pout.String())
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after the switch: %v", err)
	}
	var src, tgt []string
	for _, r := range pair.Source.ConsumeAll(t, "orders") {
		src = append(src, string(r.Value))
	}
	for _, r := range pair.Target.ConsumeAll(t, "orders") {
		tgt = append(tgt, string(r.Value))
	}
	if strings.Join(src, ",") != "before" || strings.Join(tgt, ",") != "before,after" {
		t.Errorf("source %v, target %v; want [before], [before after]", src, tgt)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("kmigrate gateway: %v (output %s)", err, out.String())
	}
}
