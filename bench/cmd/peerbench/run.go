package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/realpair"
	"github.com/kmigrate/kmigrate/bench/internal/runinfo"
	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// bench is one run's shared state.
type bench struct {
	o        options
	self     string // this binary, re-executed for the bare copy
	bin      string // the kmigrate binary built for this run
	mm2Lib   string
	dir      string
	runID    string
	src, tgt []string
	rep      *Report
}

func run(ctx context.Context, o options) (err error) {
	begin := time.Now()
	b := &bench{o: o, runID: begin.UTC().Format("20060102t150405")}
	b.rep = &Report{RunID: b.runID, Started: begin, Host: runinfo.ThisHost(), Kafka: o.kafka, MM2: MM2Version}
	root, err := runinfo.ModuleRoot()
	if err != nil {
		return err
	}
	if o.resultsDir == "" {
		o.resultsDir = filepath.Join(root, "bench", "results")
	}
	if b.mm2Lib, err = mm2Lib(); err != nil {
		return err
	}
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	if b.dir, err = os.MkdirTemp(o.workDir, "peerbench-"); err != nil {
		return err
	}
	defer func() {
		if o.keep {
			logf("data kept in %s", b.dir)
			return
		}
		err = errors.Join(err, os.RemoveAll(b.dir))
	}()
	logf("building kmigrate from %s", root)
	if b.bin, b.rep.Host.Kmigrate, err = runinfo.BuildKmigrate(ctx, root, b.dir); err != nil {
		return err
	}
	if b.rep.SourceDigest, err = runinfo.SourceDigest(root); err != nil {
		return err
	}
	stop, err := b.startClusters(ctx)
	if err != nil {
		return err
	}
	defer stop()

	for _, w := range b.workloads() {
		if len(o.rows) == 0 {
			break
		}
		if err := b.throughput(ctx, w); err != nil {
			return err
		}
	}
	for _, n := range o.scenarios {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.rep.Scenarios = append(b.rep.Scenarios, b.scenario(ctx, n)...)
	}
	b.rep.TotalSeconds = time.Since(begin).Seconds()
	md := b.rep.markdown()
	fmt.Print(md)
	path, err := b.rep.write(o.resultsDir, md)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Printf("results written to %s (and .md)\n", path)
	return b.rep.failure()
}

// workloads are the throughput workloads of the flags.
func (b *bench) workloads() []*workload.Spec {
	var out []*workload.Spec
	for _, w := range [][2]int{{b.o.records, b.o.size}, {b.o.records2, b.o.size2}} {
		if w[0] == 0 {
			continue
		}
		s, err := workload.NewSpec(w[0], w[1], b.o.partitions, 1)
		if err != nil {
			panic(err) // parseFlags checked the numbers
		}
		out = append(out, s)
	}
	return out
}

// startClusters starts the source and target, one broker each, and returns
// a function that stops both.
func (b *bench) startClusters(ctx context.Context) (func(), error) {
	logf("starting two Kafka %s clusters in %s", b.o.kafka, b.dir)
	p, err := realpair.Start(ctx, realpair.Config{
		Version: b.o.kafka, Dir: b.dir, SourceJVMOpts: realpair.BenchJVMOpts, TargetJVMOpts: realpair.BenchJVMOpts,
	})
	if err != nil {
		return nil, err
	}
	b.src, b.tgt = p.Source, p.Target
	b.rep.Clusters = fmt.Sprintf("Kafka %s, 1 broker each (KRaft combined node), JVM %v, started by internal/kafkatest/realkafka", b.o.kafka, realpair.BenchJVMOpts)
	logf("source %v, target %v", b.src, b.tgt)
	return p.Stop, nil
}

// seed creates topic on the source and writes the workload's records with
// their header and timestamp.
func (b *bench) seed(ctx context.Context, s *workload.Spec, topic string) error {
	if err := workload.CreateTopic(ctx, b.src, topic, s.Partitions); err != nil {
		return err
	}
	cl, err := kgo.NewClient(workload.ProducerOpts(b.src)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var (
		mu    sync.Mutex
		first error
	)
	for i := range s.Records {
		cl.Produce(ctx, record(s, topic, i), func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = cmpOr(first, err)
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// listTopics returns the names of the cluster's topics.
func listTopics(ctx context.Context, bootstrap []string) (map[string]bool, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for t := range td {
		out[t] = true
	}
	return out, nil
}

// deleteAndWait deletes topics and waits until the cluster no longer
// lists them, so that a tool that creates a topic of the same name next
// gets a fresh one.
func deleteAndWait(ctx context.Context, bootstrap []string, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ac := kadm.NewClient(cl)
	resps, err := ac.DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	if err := resps.Error(); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("delete topics: %w", err)
	}
	for {
		td, err := ac.ListTopicsWithInternal(ctx)
		gone := err == nil
		for _, t := range topics {
			gone = gone && !td.Has(t)
		}
		if gone {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v still listed: %w", topics, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func logf(format string, args ...any) { runinfo.Logf(format, args...) }
