// Command gatewaybench measures what `kmigrate gateway` costs a producer,
// directly to the source and through a gateway in front of it, alternating
// in one run, so the numbers share the machine's noise and are read as a
// ratio (issue 15's goal: through the gateway >= 0.8 of direct).
//
// --real is the measurement: librdkafka producers (kcat for
// throughput, confluent-kafka for librdkafka's own per-record latencies;
// enable.idempotence=true, acks=all) against a real Kafka source started
// from the kafka/fetch cache, and `kmigrate gateway` as its own process
// (built from this repository unless --kmigrate names a binary). It
// reports records/s, MB/s, the ratio, the added p99 produce latency, the
// gateway process's peak RSS, and checks after every run that the source
// took exactly the records sent.
//
// Without --real everything runs in this process on kfake clusters with
// an idempotent franz-go producer (the producer, the gateway and the
// brokers share the CPU, so the ratio is pessimistic); --source and
// --target measure existing clusters instead (the gateway still runs in
// process).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
	"github.com/kmigrate/kmigrate/internal/state"
)

type options struct {
	records, size, rounds int
	partitions            int32
	source, target        string

	real                             bool
	kafka, kmigrate, python, profile string
	linger                           int
	latencyRecords, latencyRate      int
}

func main() {
	var o options
	flag.IntVar(&o.records, "records", 200_000, "records per measurement")
	flag.IntVar(&o.size, "size", 1024, "value size in bytes")
	flag.IntVar(&o.rounds, "rounds", 2, "direct/gateway pairs measured")
	p := flag.Int("partitions", 6, "partitions of the topic")
	flag.StringVar(&o.source, "source", "", "bootstrap servers of an existing source (with --target; default: kfake in process)")
	flag.StringVar(&o.target, "target", "", "bootstrap servers of an existing target")
	flag.BoolVar(&o.real, "real", false, "librdkafka producers against a real Kafka source, through `kmigrate gateway` as its own process")
	flag.StringVar(&o.kafka, "kafka", realkafka.KRaftVersion, "Kafka version of the real clusters (fetched by kafka/fetch)")
	flag.StringVar(&o.kmigrate, "kmigrate", "", "kmigrate binary for --real (default: go build ./cmd/kmigrate)")
	flag.StringVar(&o.python, "python", filepath.Join(os.Getenv("HOME"), ".cache/kmigrate/venv/bin/python3"), "Python with confluent-kafka, for --real")
	flag.StringVar(&o.profile, "profile", "", "with --real, write a 15 s CPU profile of the gateway process (first gateway kcat run) here")
	flag.IntVar(&o.linger, "linger-ms", 5, "linger.ms of the librdkafka producers")
	flag.IntVar(&o.latencyRecords, "latency-records", 100_000, "records of each --real latency run (confluent-kafka)")
	flag.IntVar(&o.latencyRate, "latency-rate", 10_000, "records/s of each --real latency run")
	flag.Parse()
	o.partitions = int32(*p)
	run := runInProcess
	if o.real {
		run = runReal
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaybench:", err)
		os.Exit(1)
	}
}

// result is one measurement.
type result struct {
	name     string
	elapsed  time.Duration
	p50, p99 time.Duration
	records  int
}

func (r result) rate() float64 { return float64(r.records) / r.elapsed.Seconds() }

func runInProcess(ctx context.Context, o options) error {
	src, tgt, stop, err := clusters(o)
	if err != nil {
		return err
	}
	defer stop()
	topic := fmt.Sprintf("gatewaybench-%d", time.Now().UnixNano())
	migration := topic
	for _, addrs := range [][]string{src, tgt} {
		if err := createTopic(ctx, addrs, topic, o.partitions); err != nil {
			return err
		}
	}
	tcl, err := kgo.NewClient(kgo.SeedBrokers(tgt...))
	if err != nil {
		return err
	}
	defer tcl.Close()
	if _, err := state.Ensure(ctx, kadm.NewClient(tcl), state.TopicName(migration), -1); err != nil {
		return fmt.Errorf("state topic: %w", err)
	}
	srcCfg := config.Cluster{Bootstrap: src, SecurityProtocol: config.Plaintext}
	tgtCfg := config.Cluster{Bootstrap: tgt, SecurityProtocol: config.Plaintext}
	gw, err := gateway.New(gateway.Options{
		Listen: "127.0.0.1:0", Source: &srcCfg, Target: &tgtCfg, Migration: migration,
		Topics: []gateway.Topic{{Source: topic, Target: topic}}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	gctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = gw.Run(gctx) })
	defer func() { cancel(); wg.Wait() }()

	value := []byte(strings.Repeat("v", o.size))
	var direct, through []result
	for round := range o.rounds {
		d, err := produce(ctx, "direct", src, topic, o.records, value)
		if err != nil {
			return err
		}
		g, err := produce(ctx, "gateway", []string{gw.Addr()}, topic, o.records, value)
		if err != nil {
			return err
		}
		direct, through = append(direct, d), append(through, g)
		fmt.Printf("round %d: direct %.0f rec/s (p50 %v, p99 %v); gateway %.0f rec/s (p50 %v, p99 %v); ratio %.2f\n",
			round+1, d.rate(), d.p50, d.p99, g.rate(), g.p50, g.p99, g.rate()/d.rate())
	}
	d, g := best(direct), best(through)
	fmt.Printf("\nbest of %d, %d records of %d B, %d partitions, idempotent franz-go producer, acks=all:\n", o.rounds, o.records, o.size, o.partitions)
	fmt.Printf("  direct   %9.0f rec/s  %6.1f MB/s  p50 %-8v p99 %v\n", d.rate(), d.rate()*float64(o.size)/1e6, d.p50, d.p99)
	fmt.Printf("  gateway  %9.0f rec/s  %6.1f MB/s  p50 %-8v p99 %v\n", g.rate(), g.rate()*float64(o.size)/1e6, g.p50, g.p99)
	fmt.Printf("  ratio gateway/direct %.2f (goal >= 0.8); added p99 %v\n", g.rate()/d.rate(), g.p99-d.p99)
	fmt.Printf("  peak RSS of this process (brokers if kfake, producer and gateway) %s\n", peakRSS())
	return nil
}

func best(rs []result) result {
	return slices.MaxFunc(rs, func(a, b result) int {
		switch {
		case a.rate() < b.rate():
			return -1
		case a.rate() > b.rate():
			return 1
		}
		return 0
	})
}

// clusters returns the bootstrap servers of the source and the target,
// started in process unless given.
func clusters(o options) ([]string, []string, func(), error) {
	if (o.source == "") != (o.target == "") {
		return nil, nil, nil, fmt.Errorf("--source and --target go together")
	}
	if o.source != "" {
		return strings.Split(o.source, ","), strings.Split(o.target, ","), func() {}, nil
	}
	s, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		s.Close()
		return nil, nil, nil, err
	}
	return s.ListenAddrs(), t.ListenAddrs(), func() { s.Close(); t.Close() }, nil
}

func createTopic(ctx context.Context, addrs []string, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create %s on %v: %w", topic, addrs, err)
	}
	return nil
}

// produce writes n records round robin with an idempotent producer
// (acks=all) and returns its rate and latencies.
func produce(ctx context.Context, name string, addrs []string, topic string, n int, value []byte) (result, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	// Warm up: metadata, producer id, connections.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
		return result{}, fmt.Errorf("%s: %w", name, err)
	}
	lat := make([]time.Duration, n)
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			lat[i] = time.Since(sent)
			if err != nil {
				mu.Lock()
				first = cmpErr(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return result{}, fmt.Errorf("%s: %w", name, first)
	}
	slices.Sort(lat)
	return result{name: name, elapsed: elapsed, records: n, p50: lat[n/2], p99: lat[n*99/100]}, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// peakRSS is the process's VmHWM from /proc, or "unknown".
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "unknown"
}

// logf prints progress to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
