package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// childResult is what a --child run prints on stdout.
type childResult struct {
	// Sums are per partition; a produce run reports what it wrote.
	Sums []workload.Sum `json:"sums,omitempty"`
	// Seconds is the time of the work itself, without process start and
	// client creation.
	Seconds float64 `json:"seconds"`
}

// runChild runs one franz-go baseline in this process, which the parent
// measures from outside.
func runChild(ctx context.Context, o options) error {
	if o.bootstrap == "" || o.topic == "" {
		return fmt.Errorf("--child needs --bootstrap and --topic")
	}
	bootstrap := strings.Split(o.bootstrap, ",")
	if o.child == "copy" {
		bootstrap = nil
	}
	var res childResult
	switch o.child {
	case "consume":
		start := time.Now()
		sums, err := workload.Consume(ctx, bootstrap, o.topic, false)
		if err != nil {
			return err
		}
		res = childResult{Sums: sums, Seconds: time.Since(start).Seconds()}
	case "produce":
		spec, err := workload.NewSpec(o.records, o.size, o.partitions, o.seed)
		if err != nil {
			return err
		}
		cl, err := kgo.NewClient(workload.ProducerOpts(bootstrap)...)
		if err != nil {
			return err
		}
		start := time.Now()
		err = workload.Produce(ctx, cl, o.topic, spec)
		res.Seconds = time.Since(start).Seconds()
		cl.Close()
		if err != nil {
			return err
		}
	case "copy":
		parts := strings.SplitN(o.bootstrap, "|", 2)
		if len(parts) != 2 {
			return fmt.Errorf("--child copy needs --bootstrap SOURCE|TARGET")
		}
		start := time.Now()
		sums, err := workload.Copy(ctx, strings.Split(parts[0], ","), strings.Split(parts[1], ","), o.topic, o.copyTo)
		if err != nil {
			return err
		}
		res = childResult{Sums: sums, Seconds: time.Since(start).Seconds()}
	default:
		return fmt.Errorf("--child %q: use consume, produce or copy", o.child)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
