// Command flushprobe times what a one-unit mirror's commit waits for
// (issue 13): producing one transaction's worth of records (11,000 x 1 KiB
// over 12 partitions by default) to a real Kafka cluster, then Flush and
// EndTransaction, with the producer options kmigrate's session uses and
// variants of them. A diagnostic, not a benchmark: it starts one real
// cluster (internal/kafkatest/realkafka) unless -bootstrap names one.
//
// What it found: a transaction's produce is as fast as a plain idempotent
// one (0.1 to 0.3 s for 11 MB on an idle 3-broker cluster), except when
// its first batch meets CONCURRENT_TRANSACTIONS (the previous commit's
// markers still being written, transactions v2): franz-go then retries the
// partition's batches (the pipelined ones fail with OUT_OF_ORDER_SEQUENCE
// meanwhile) only after a metadata refresh, at most one per MetadataMinAge,
// 5 s by default, and Flush waits up to that long. -log debug shows the
// retries; the -seq variants produce transactions back to back on one
// client as a copy loop does, and the -minage ones set the fix.
//
//	go run ./bench/cmd/flushprobe -hold               # all variants, then keep the cluster
//	go run ./bench/cmd/flushprobe -bootstrap HOST:PORT -variants txn-km-seq,txn-km-seq-minage -seq 25 -log debug
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

func main() {
	var (
		bootstrap  = flag.String("bootstrap", "", "use this cluster instead of starting one")
		brokers    = flag.Int("brokers", 3, "brokers of the started cluster")
		records    = flag.Int("records", 11000, "records per transaction")
		size       = flag.Int("size", 1024, "value bytes per record")
		partitions = flag.Int("partitions", 12, "partitions (records round-robin)")
		reps       = flag.Int("reps", 3, "runs of each variant")
		variants   = flag.String("variants", "", "comma-separated variants to run (all if empty)")
		seq        = flag.Int("seq", 0, "transactions per client for the -seq variants (their own count if 0)")
		hold       = flag.Bool("hold", false, "keep the started cluster running until interrupted")
		debug      = flag.String("log", "", "franz-go log level to stderr (debug, info, warn)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	addrs := strings.Split(*bootstrap, ",")
	if *bootstrap == "" {
		c, err := realkafka.Start(ctx, realkafka.Config{
			Version: realkafka.KRaftVersion, Brokers: *brokers, Name: "flushprobe",
			JVMOpts: []string{"-Xms512m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
				"-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true"},
			StartTimeout: 5 * time.Minute,
		})
		if err != nil {
			log.Fatal(err)
		}
		defer c.Stop()
		addrs = c.Addrs()
		log.Printf("cluster %s", c.Bootstrap())
	}
	topic := "probe"
	adm, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		log.Fatal(err)
	}
	rf := int16(min(*brokers, 3))
	if _, err := kadm.NewClient(adm).CreateTopic(ctx, int32(*partitions), rf, nil, topic); err != nil && !strings.Contains(err.Error(), "TOPIC_ALREADY_EXISTS") {
		log.Fatal(err)
	}
	adm.Close()
	p := probe{logLevel: logLevel(*debug), addrs: addrs, topic: topic, records: *records, size: *size, partitions: int32(*partitions)}
	want := map[string]bool{}
	for _, v := range strings.Split(*variants, ",") {
		if v != "" {
			want[v] = true
		}
	}
	for _, v := range allVariants() {
		if len(want) > 0 && !want[v.name] {
			continue
		}
		if v.seq > 1 && *seq > 0 {
			v.seq = *seq
		}
		for i := range *reps {
			if ctx.Err() != nil {
				return
			}
			r, err := p.run(ctx, v)
			if err != nil {
				log.Printf("%s #%d: %v", v.name, i, err)
				continue
			}
			fmt.Printf("%-16s #%d %s\n", v.name, i, r)
		}
	}
	if *hold && *bootstrap == "" {
		log.Printf("holding %s; interrupt to stop", strings.Join(addrs, ","))
		<-ctx.Done()
	}
}

// variant is one way of producing the transaction.
type variant struct {
	name string
	txn  bool
	// chunk > 0 produces the records chunk at a time, pause apart (as a
	// copy loop fetching small batches does); 0 produces them at once.
	chunk int
	// seq is how many transactions one client produces in a row (1 if 0),
	// as a copy loop does.
	seq     int
	pause   time.Duration
	headers bool
	oldTS   bool
	opts    []kgo.Opt
}

// kmigrateOpts are the producer options of internal/mirror/session.go
// (open), with its default budget: MaxBufferedBytes a sixth of
// (256 MiB - 28 MiB), batches up to the default max.message.bytes.
func kmigrateOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.MaxBufferedBytes(38 << 20),
		kgo.ProducerBatchMaxBytesFn(func(string) int32 { return 1048588 }),
		kgo.RecordRetries(20),
	}
}

func allVariants() []variant {
	km := kmigrateOpts()
	// batch16k makes many more produce requests per transaction (and so
	// more chances to meet CONCURRENT_TRANSACTIONS); minAge is the fix.
	batch16k := kgo.ProducerBatchMaxBytesFn(func(string) int32 { return 16384 })
	minAge := kgo.MetadataMinAge(250 * time.Millisecond)
	return []variant{
		{name: "idem"},
		{name: "idem-km", opts: km},
		{name: "txn", txn: true},
		{name: "txn-km", txn: true, opts: km},
		{name: "txn-km-hdr-old", txn: true, opts: km, headers: true, oldTS: true},
		{name: "txn-km-chunk", txn: true, opts: km, chunk: 500, pause: 10 * time.Millisecond},
		{name: "txn-km-seq", txn: true, opts: km, seq: 8},
		{name: "txn-km-chunk-seq", txn: true, opts: km, chunk: 500, pause: 10 * time.Millisecond, seq: 8},
		{name: "txn-km16k-seq", txn: true, opts: append(slices.Clone(km), batch16k), seq: 8},
		{name: "txn-km16k-seq-minage", txn: true, opts: append(slices.Clone(km), batch16k, minAge), seq: 8},
		{name: "txn-km-seq-minage", txn: true, opts: append(slices.Clone(km), minAge), seq: 8},
		{name: "txn-km-chunk-seq-minage", txn: true, opts: append(slices.Clone(km), minAge), chunk: 500, pause: 10 * time.Millisecond, seq: 8},
		{name: "txn-km-linger0", txn: true, opts: append(slices.Clone(km), kgo.ProducerLinger(0))},
		{name: "txn-km-batch16k", txn: true, opts: append(slices.Clone(km), kgo.ProducerBatchMaxBytesFn(func(string) int32 { return 16384 }))},
	}
}

type probe struct {
	logLevel   kgo.LogLevel
	addrs      []string
	topic      string
	records    int
	size       int
	partitions int32
	n          atomic.Int64
}

// stats collects produce requests from franz-go's hooks.
type stats struct {
	mu         sync.Mutex
	reqs       map[int16]int
	bytes      map[int16]int
	lat        map[int16]time.Duration
	maxLat     map[int16]time.Duration
	batches    int
	batchRecs  int
	batchBytes int
}

func (s *stats) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs[key]++
	s.bytes[key] += e.BytesWritten
	d := e.DurationE2E()
	s.lat[key] += d
	s.maxLat[key] = max(s.maxLat[key], d)
}

func (s *stats) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	s.batchRecs += m.NumRecords
	s.batchBytes += m.UncompressedBytes
}

// reset starts counting afresh.
func (s *stats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs, s.bytes = map[int16]int{}, map[int16]int{}
	s.lat, s.maxLat = map[int16]time.Duration{}, map[int16]time.Duration{}
	s.batches, s.batchRecs, s.batchBytes = 0, 0, 0
}

func (s *stats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	names := map[int16]string{0: "produce", 24: "addParts", 26: "endTxn"}
	for _, k := range []int16{0, 24, 26} {
		if s.reqs[k] == 0 {
			continue
		}
		fmt.Fprintf(&b, " %s=%d(avg %v max %v, %d KiB)", names[k], s.reqs[k],
			(s.lat[k] / time.Duration(s.reqs[k])).Round(time.Millisecond), s.maxLat[k].Round(time.Millisecond), s.bytes[k]>>10)
	}
	if s.batches > 0 {
		fmt.Fprintf(&b, " batches=%d (%d recs, %d KiB avg)", s.batches, s.batchRecs/s.batches, s.batchBytes/s.batches>>10)
	}
	return b.String()
}

func (p *probe) run(ctx context.Context, v variant) (string, error) {
	st := &stats{}
	st.reset()
	opts := []kgo.Opt{
		kgo.SeedBrokers(p.addrs...),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.WithHooks(st),
	}
	if p.logLevel != kgo.LogLevelNone {
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, p.logLevel, func() string { return v.name + " " })))
	}
	opts = append(opts, v.opts...)
	if v.txn {
		opts = append(opts, kgo.TransactionalID(fmt.Sprintf("flushprobe-%d-%d", os.Getpid(), p.n.Add(1))), kgo.TransactionTimeout(time.Minute))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	// Warm up: producer id, metadata, connections (not timed).
	if v.txn {
		if err := cl.BeginTransaction(); err != nil {
			return "", err
		}
	}
	for i := range p.partitions {
		cl.Produce(ctx, &kgo.Record{Topic: p.topic, Partition: i, Value: []byte("warm")}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		return "", err
	}
	if v.txn {
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return "", err
		}
	}
	var out []string
	for range max(v.seq, 1) {
		line, err := p.txn(ctx, cl, v, st)
		if err != nil {
			return strings.Join(out, "\n"), err
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"+strings.Repeat(" ", 20)), nil
}

// txn produces one transaction (or batch of records) on cl and times it.
func (p *probe) txn(ctx context.Context, cl *kgo.Client, v variant, st *stats) (string, error) {
	st.reset()

	var (
		errMu    sync.Mutex
		firstErr error
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			errMu.Lock()
			firstErr = cmp.Or(firstErr, err)
			errMu.Unlock()
		}
	}
	value := make([]byte, p.size)
	old := time.Now().Add(-30 * 24 * time.Hour)
	start := time.Now()
	if v.txn {
		if err := cl.BeginTransaction(); err != nil {
			return "", err
		}
	}
	for i := range p.records {
		r := &kgo.Record{Topic: p.topic, Partition: int32(i) % p.partitions, Value: value}
		if v.headers {
			r.Headers = []kgo.RecordHeader{{Key: "kmigrate-origin", Value: make([]byte, 40)}}
		}
		if v.oldTS {
			r.Timestamp = old.Add(time.Duration(i) * time.Millisecond)
		}
		cl.Produce(ctx, r, done)
		if v.chunk > 0 && (i+1)%v.chunk == 0 {
			time.Sleep(v.pause)
		}
	}
	produced := time.Now()
	if err := cl.Flush(ctx); err != nil {
		return "", err
	}
	flushed := time.Now()
	if v.txn {
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return "", err
		}
	}
	ended := time.Now()
	if firstErr != nil {
		return "", firstErr
	}
	mb := float64(p.records*p.size) / 1e6
	return fmt.Sprintf("produce %6v flush %6v end %5v total %6v = %5.1f MB/s |%s",
		produced.Sub(start).Round(time.Millisecond), flushed.Sub(produced).Round(time.Millisecond),
		ended.Sub(flushed).Round(time.Millisecond), ended.Sub(start).Round(time.Millisecond),
		mb/ended.Sub(start).Seconds(), st), nil
}

func logLevel(s string) kgo.LogLevel {
	switch s {
	case "debug":
		return kgo.LogLevelDebug
	case "info":
		return kgo.LogLevelInfo
	case "warn":
		return kgo.LogLevelWarn
	}
	return kgo.LogLevelNone
}
