package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/realpair"
	"github.com/kmigrate/kmigrate/internal/state"
)

// realRun is one measurement of the real mode.
type realRun struct {
	driver, via string
	records     int
	elapsed     time.Duration
	p50, p99    time.Duration // confluent-kafka runs only
}

// runReal measures librdkafka producers against a real Kafka source,
// directly and through `kmigrate gateway` running as its own process.
func runReal(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "gatewaybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src, tgt, stop, err := startReal(ctx, o, dir)
	if err != nil {
		return err
	}
	defer stop()
	topic := fmt.Sprintf("gatewaybench-%d", time.Now().UnixNano())
	if err := prepareMigration(ctx, src, tgt, topic, o.partitions); err != nil {
		return err
	}
	gw, err := startGatewayProcess(ctx, o, dir, src, tgt, topic)
	if err != nil {
		return err
	}
	defer gw.stop()

	file, script := filepath.Join(dir, "records.txt"), filepath.Join(dir, "latency.py")
	if err := writeRecordsFile(file, o.records, o.size); err != nil {
		return err
	}
	if err := os.WriteFile(script, latencyPy, 0o600); err != nil {
		return err
	}
	srcAdm, closeAdm, err := admin(src)
	if err != nil {
		return err
	}
	defer closeAdm()
	addrs := map[string]string{"direct": src[0], "gateway": gw.addr}
	// An unmeasured round first: the broker's JIT and page cache warm
	// up on it.
	for _, via := range []string{"direct", "gateway"} {
		if _, err := measure(ctx, o, srcAdm, topic, "kcat", via, addrs[via], file, script); err != nil {
			return err
		}
	}
	var runs []realRun
	for round := range o.rounds {
		for _, driver := range []string{"kcat", "confluent-kafka"} {
			for _, via := range []string{"direct", "gateway"} {
				var profile func() error
				if round == 0 && driver == "kcat" && via == "gateway" && o.profile != "" {
					profile = gw.profile(o.profile)
				}
				r, err := measure(ctx, o, srcAdm, topic, driver, via, addrs[via], file, script)
				if profile != nil {
					if perr := profile(); perr != nil {
						logf("profile: %v", perr)
					}
				}
				if err != nil {
					return err
				}
				runs = append(runs, r)
				logf("round %d %-15s %-7s %9.0f rec/s %6.1f MB/s p50 %v p99 %v", round+1, driver, via,
					float64(r.records)/r.elapsed.Seconds(), float64(r.records*o.size)/1e6/r.elapsed.Seconds(), r.p50, r.p99)
			}
		}
	}
	reportReal(o, runs, vmHWM(strconv.Itoa(gw.cmd.Process.Pid)))
	return nil
}

// measure runs one driver once and checks that the source took exactly
// the records it sent (no loss, no duplicate).
func measure(ctx context.Context, o options, adm *kadm.Client, topic, driver, via, addr, file, script string) (realRun, error) {
	before, err := endSum(ctx, adm, topic)
	if err != nil {
		return realRun{}, err
	}
	r := realRun{driver: driver, via: via, records: o.records}
	if driver != "kcat" {
		r.records = o.latencyRecords
	}
	want := int64(r.records)
	if driver == "kcat" {
		r.elapsed, err = kcatProduce(ctx, addr, topic, file, o.linger)
	} else {
		var py pyResult
		py, err = pythonProduce(ctx, o.python, script, addr, topic, r.records, o.size, o.linger, o.latencyRate)
		r.elapsed = time.Duration(py.Elapsed * float64(time.Second))
		r.p50, r.p99 = time.Duration(py.P50*float64(time.Second)), time.Duration(py.P99*float64(time.Second))
		want++ // the warm-up record
	}
	if err != nil {
		return realRun{}, err
	}
	after, err := endSum(ctx, adm, topic)
	if err != nil {
		return realRun{}, err
	}
	if after-before != want {
		return realRun{}, fmt.Errorf("%s %s: the source took %d records, want %d", driver, via, after-before, want)
	}
	return r, nil
}

func endSum(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

func admin(addrs []string) (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// startReal starts the source (sized for the measurement) and the target
// (it holds only the migration's state), one broker each.
func startReal(ctx context.Context, o options, dir string) ([]string, []string, func(), error) {
	logf("starting Kafka %s source and target in %s", o.kafka, dir)
	p, err := realpair.Start(ctx, realpair.Config{Version: o.kafka, Dir: dir, SourceJVMOpts: realpair.BenchJVMOpts})
	if err != nil {
		return nil, nil, nil, err
	}
	return p.Source, p.Target, p.Stop, nil
}

// prepareMigration creates the topic on both clusters and records the
// migration's meta in its state on the target, as a mirror's first run
// does (the gateway serves the topics the state names); no mirror runs,
// so the target's broker does not compete for the CPU.
func prepareMigration(ctx context.Context, src, tgt []string, topic string, partitions int32) error {
	// Bounded retention: every run adds a full copy of the records.
	configs := map[string]*string{"retention.bytes": kadm.StringPtr("268435456"), "segment.bytes": kadm.StringPtr("67108864")}
	var ids [2]string
	for i, addrs := range [][]string{src, tgt} {
		adm, done, err := admin(addrs)
		if err != nil {
			return err
		}
		defer done()
		resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("create %s on %v: %w", topic, addrs, err)
		}
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return err
		}
		ids[i] = md.Cluster
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(tgt...))
	if err != nil {
		return err
	}
	defer cl.Close()
	st := state.TopicName(topic)
	if _, err := state.Ensure(ctx, kadm.NewClient(cl), st, 1); err != nil {
		return fmt.Errorf("state topic: %w", err)
	}
	rec, err := state.MetaRecord(st, state.Meta{
		Migration: topic, SourceClusterID: ids[0], TargetClusterID: ids[1], Created: time.Now().UTC(),
		Guarantee: "exactly-once", Topics: map[string]string{topic: topic},
	})
	if err != nil {
		return err
	}
	// A topic just created may not be served yet.
	for try := 0; ; try++ {
		err := state.Write(ctx, cl, rec)
		if err == nil || try == 30 {
			return err
		}
		time.Sleep(time.Second)
	}
}

// gatewayProcess is `kmigrate gateway` running as its own process.
type gatewayProcess struct {
	cmd        *exec.Cmd
	addr, http string
	done       chan error
}

func startGatewayProcess(ctx context.Context, o options, dir string, src, tgt []string, migration string) (*gatewayProcess, error) {
	bin := o.kmigrate
	if bin == "" {
		bin = filepath.Join(dir, "kmigrate")
		logf("building kmigrate into %s", bin)
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kmigrate").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/kmigrate (run from the repository root, or pass --kmigrate): %w: %s", err, out)
		}
	}
	spec := filepath.Join(dir, "spec.yaml")
	body := fmt.Sprintf("version: 1\nname: %s\nsource:\n  bootstrap: [%s]\ntarget:\n  bootstrap: [%s]\n", migration, src[0], tgt[0])
	if err := os.WriteFile(spec, []byte(body), 0o600); err != nil {
		return nil, err
	}
	g := &gatewayProcess{addr: freeAddr(), http: freeAddr(), done: make(chan error, 1)}
	g.cmd = exec.CommandContext(ctx, bin, "gateway", "-f", spec, "--log-level", "warn", "--listen", g.addr, "--http", g.http)
	log, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		return nil, err
	}
	g.cmd.Stdout, g.cmd.Stderr = log, log
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { g.done <- g.cmd.Wait(); log.Close() }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-g.done:
			out, _ := os.ReadFile(log.Name())
			return nil, fmt.Errorf("kmigrate gateway exited: %v: %s", err, out)
		default:
		}
		if resp, err := http.Get("http://" + g.http + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				logf("kmigrate gateway (pid %d) serving %s", g.cmd.Process.Pid, g.addr)
				return g, nil
			}
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, errors.New("kmigrate gateway not healthy within a minute")
		}
	}
}

func (g *gatewayProcess) stop() {
	_ = g.cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// profile starts a 15 s CPU profile of the gateway and returns the
// function that waits for it and writes it to path.
func (g *gatewayProcess) profile(path string) func() error {
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + g.http + "/debug/pprof/profile?seconds=15")
		if err != nil {
			errc <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			errc <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		errc <- errors.Join(err, f.Close())
	}()
	return func() error { return <-errc }
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// reportReal prints the median throughput of kcat and the median
// latencies of confluent-kafka, direct and through the gateway, and their
// ratio and difference.
func reportReal(o options, runs []realRun, rss string) {
	meds := map[string]realRun{}
	for _, driver := range []string{"kcat", "confluent-kafka"} {
		for _, via := range []string{"direct", "gateway"} {
			var sel []realRun
			for _, r := range runs {
				if r.driver == driver && r.via == via {
					sel = append(sel, r)
				}
			}
			meds[driver+via] = median(sel)
		}
	}
	fmt.Printf("\nKafka %s source (1 broker), %d partitions, librdkafka producers with enable.idempotence=true, acks=all, linger.ms=%d;\n", o.kafka, o.partitions, o.linger)
	fmt.Printf("%d rounds alternating direct and gateway, medians:\n", o.rounds)
	fmt.Printf("  throughput, kcat writing %d records of %d B as fast as it can:\n", o.records, o.size)
	for _, via := range []string{"direct", "gateway"} {
		r := meds["kcat"+via]
		fmt.Printf("    %-7s %9.0f rec/s %7.1f MB/s\n", via, float64(r.records)/r.elapsed.Seconds(), float64(r.records*o.size)/1e6/r.elapsed.Seconds())
	}
	// Each round's ratio compares runs that shared the machine's load;
	// their median is the figure to read.
	var direct time.Duration
	var ratios []float64
	for _, r := range runs {
		switch {
		case r.driver != "kcat":
		case r.via == "direct":
			direct = r.elapsed
		default:
			ratios = append(ratios, direct.Seconds()/r.elapsed.Seconds())
		}
	}
	fmt.Printf("    ratio gateway/direct per round:")
	for _, x := range ratios {
		fmt.Printf(" %.2f", x)
	}
	sorted := slices.Sorted(slices.Values(ratios))
	fmt.Printf("; median %.2f (goal >= 0.8)\n", sorted[len(sorted)/2])
	fmt.Printf("  latency, confluent-kafka writing %d records of %d B at %d rec/s (librdkafka's own per-record latency):\n", o.latencyRecords, o.size, o.latencyRate)
	for _, via := range []string{"direct", "gateway"} {
		r := meds["confluent-kafka"+via]
		fmt.Printf("    %-7s p50 %v  p99 %v\n", via, r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond))
	}
	fmt.Printf("    added p99 %v\n", (meds["confluent-kafkagateway"].p99 - meds["confluent-kafkadirect"].p99).Round(100*time.Microsecond))
	fmt.Printf("  kmigrate gateway process peak RSS (VmHWM) %s\n", rss)
}

// median is the run of median elapsed time (the upper one of an even
// count); its latencies are the medians of the runs' own.
func median(rs []realRun) realRun {
	if len(rs) == 0 {
		return realRun{}
	}
	m := rs[0]
	pick := func(f func(realRun) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	m.elapsed = pick(func(r realRun) time.Duration { return r.elapsed })
	m.p50 = pick(func(r realRun) time.Duration { return r.p50 })
	m.p99 = pick(func(r realRun) time.Duration { return r.p99 })
	return m
}
