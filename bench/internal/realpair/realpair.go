// Package realpair starts the pair of real Apache Kafka clusters a
// benchmark migrates between: a source and a target, each with its own
// brokers, JVM options and data folder, started at the same time.
//
// Three harnesses (gatewaybench --real, peerbench, mirrorbench --real) need
// exactly this, and each used to carry its own copy of the start and stop
// code; one copy means one place where start-up errors, timeouts and the
// clean-up on failure are handled. The clusters themselves are
// internal/kafkatest/realkafka's: the jars come from the kafka/fetch cache.
package realpair

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"github.com/kmigrate/kmigrate/internal/kafkatest/realkafka"
)

// BenchJVMOpts size a broker like a small production node (realkafka's
// defaults are for quick test clusters): a fixed 1 GiB heap, G1, the C2
// compiler.
var BenchJVMOpts = []string{
	"-Xms1g", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
	"-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true",
}

// DefaultStartTimeout bounds the start of each cluster when Config leaves
// it zero: JVMs start slowly on a busy 2-core machine.
const DefaultStartTimeout = 5 * time.Minute

// Config describes the pair.
type Config struct {
	// Version is the Kafka version of both clusters (fetched by kafka/fetch).
	Version string
	// Dir holds the clusters' data: Dir/source and Dir/target.
	Dir string
	// SourceBrokers and TargetBrokers are the brokers of each cluster, 1 if
	// zero.
	SourceBrokers, TargetBrokers int
	// SourceJVMOpts and TargetJVMOpts are each cluster's JVM options; nil
	// keeps realkafka's defaults (small, quick to start).
	SourceJVMOpts, TargetJVMOpts []string
	// StartTimeout bounds each cluster's start; DefaultStartTimeout if zero.
	StartTimeout time.Duration
}

// Pair is a running source and target.
type Pair struct {
	// Source and Target are the clusters' bootstrap servers.
	Source, Target []string
	clusters       [2]*realkafka.Cluster
}

// configs returns the realkafka configuration of the source and the target.
func (c Config) configs() [2]realkafka.Config {
	timeout := c.StartTimeout
	if timeout == 0 {
		timeout = DefaultStartTimeout
	}
	one := func(name string, brokers int, jvm []string) realkafka.Config {
		return realkafka.Config{
			Version: c.Version, Name: name, Brokers: max(brokers, 1), Dir: filepath.Join(c.Dir, name),
			JVMOpts: jvm, StartTimeout: timeout,
		}
	}
	return [2]realkafka.Config{
		one("source", c.SourceBrokers, c.SourceJVMOpts),
		one("target", c.TargetBrokers, c.TargetJVMOpts),
	}
}

// Start starts both clusters concurrently and returns once both serve. On
// error nothing is left running.
func Start(ctx context.Context, cfg Config) (*Pair, error) {
	var (
		wg   sync.WaitGroup
		p    Pair
		errs [2]error
	)
	for i, c := range cfg.configs() {
		wg.Go(func() { p.clusters[i], errs[i] = realkafka.Start(ctx, c) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		p.Stop()
		return nil, err
	}
	p.Source, p.Target = p.clusters[0].Addrs(), p.clusters[1].Addrs()
	return &p, nil
}

// Stop stops both clusters (those that started); it may be called more
// than once.
func (p *Pair) Stop() {
	for i, c := range p.clusters {
		if c != nil {
			c.Stop()
			p.clusters[i] = nil
		}
	}
}
