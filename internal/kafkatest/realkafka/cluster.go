package realkafka

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config describes one cluster. The zero value but for Version is a
// single-broker PLAINTEXT cluster in a temporary folder.
type Config struct {
	// Version is a Kafka version fetched into the cache: 3.x runs with
	// ZooKeeper, 4.x as KRaft combined nodes (broker and controller in one
	// JVM, all nodes voters).
	Version string
	// Brokers is the number of brokers, 1 if zero.
	Brokers int
	// Dir holds the nodes' data, configs and logs; a new temporary folder
	// if empty, removed by Stop.
	Dir string
	// Name labels the cluster in errors and folder names ("source").
	Name string
	// BrokerProps are added to (or override) every broker's
	// server.properties.
	BrokerProps map[string]string
	// JVMOpts replace the default JVM options (defaultJVMOpts).
	JVMOpts []string
	// StartTimeout bounds Start and Restart; 2 minutes if zero.
	StartTimeout time.Duration
	// SASLSSL secures the client listener (KRaft versions only); nil is
	// PLAINTEXT.
	SASLSSL *SASLSSL
}

// defaultJVMOpts keep a node small and quick to start on a 2-core machine
// shared with other JVMs: a 512 MiB heap, the serial collector (no GC
// threads competing for the cores) and the C1 compiler only (most of a
// JVM's start-up CPU is C2 compiling). The lane's clusters move megabytes,
// where C1 code is fast enough; benchmarks should pass their own JVMOpts.
var defaultJVMOpts = []string{
	"-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
	"-XX:-UsePerfData", "-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true",
}

// Cluster is a running cluster.
type Cluster struct {
	cfg     Config
	java    string
	cp      string
	tempDir bool
	id      string // the KRaft cluster id; ZooKeeper clusters make their own

	mu      sync.Mutex
	zk      *process
	zkAddr  string
	brokers []*Broker
}

// Broker is one Kafka node of a Cluster.
type Broker struct {
	// ID is the broker.id (node.id in KRaft), 1-based.
	ID int32
	// Addr is the client listener, 127.0.0.1:port: PLAINTEXT, or
	// SASL_SSL with Config.SASLSSL.
	Addr string

	internalAddr string // PLAINTEXT, for brokers and Ready; Addr without SASLSSL
	ctrlAddr     string // KRaft controller listener
	proc         *process
}

// Start starts a cluster and returns once it serves (see Ready). On error
// nothing is left running.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Brokers == 0 {
		cfg.Brokers = 1
	}
	if cfg.Name == "" {
		cfg.Name = "kafka"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.JVMOpts == nil {
		cfg.JVMOpts = defaultJVMOpts
	}
	cp, err := classpath(cfg.Version)
	if err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("realkafka: %w", err)
	}
	c := &Cluster{cfg: cfg, java: java, cp: cp}
	if c.cfg.Dir == "" {
		if c.cfg.Dir, err = os.MkdirTemp("", "kmigrate-"+cfg.Name+"-"); err != nil {
			return nil, err
		}
		c.tempDir = true
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	// A port taken between choosing and binding makes a node exit at
	// once; choosing again almost always succeeds.
	for attempt := 1; ; attempt++ {
		err = c.startOnce(ctx)
		if err == nil {
			return c, nil
		}
		c.killAll()
		if attempt == 3 || ctx.Err() != nil {
			c.Stop()
			return nil, fmt.Errorf("realkafka: start %s (Kafka %s, %d brokers): %w", cfg.Name, cfg.Version, cfg.Brokers, err)
		}
		if err := os.RemoveAll(c.cfg.Dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(c.cfg.Dir, 0o755); err != nil {
			return nil, err
		}
	}
}

func (c *Cluster) startOnce(ctx context.Context) error {
	n := c.cfg.Brokers
	ports, err := freePorts(3*n + 1)
	if err != nil {
		return err
	}
	logCfg, err := writeLogConfig(c.cfg.Dir, c.cfg.Version)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.brokers = nil
	for i := range n {
		b := &Broker{
			ID:       int32(i + 1),
			Addr:     fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			ctrlAddr: fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
		}
		b.internalAddr = b.Addr
		if c.cfg.SASLSSL != nil {
			b.internalAddr = fmt.Sprintf("127.0.0.1:%d", ports[3*i+2])
		}
		c.brokers = append(c.brokers, b)
	}
	c.zkAddr = fmt.Sprintf("127.0.0.1:%d", ports[3*n])
	c.mu.Unlock()
	if kraft(c.cfg.Version) {
		c.id = newClusterID()
	} else if err := c.startZooKeeper(ctx, logCfg); err != nil {
		return err
	}
	for _, b := range c.brokers {
		if err := c.prepare(b, logCfg); err != nil {
			return err
		}
	}
	if kraft(c.cfg.Version) {
		if err := c.format(ctx); err != nil {
			return err
		}
	}
	for _, b := range c.brokers {
		if err := b.proc.start(c.java); err != nil {
			return err
		}
	}
	if err := c.Ready(ctx); err != nil {
		return err
	}
	if s := c.cfg.SASLSSL; s != nil && !kraft(c.cfg.Version) {
		// ZooKeeper brokers have no formatter to take the users: add
		// them through the internal listener, as its super user.
		return s.addUsers(ctx, c.internalAddrs())
	}
	return nil
}

// startZooKeeper runs a standalone ZooKeeper for a 3.x cluster.
func (c *Cluster) startZooKeeper(ctx context.Context, logCfg []string) error {
	dir := filepath.Join(c.cfg.Dir, "zookeeper")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	_, port, _ := strings.Cut(c.zkAddr, ":")
	cfgPath := filepath.Join(dir, "zoo.cfg")
	// A short tick lets broker sessions expire within seconds of a kill -9
	// (the session timeout is bounded by 20 ticks).
	if err := writeProps(cfgPath, map[string]string{
		"tickTime":           "500",
		"dataDir":            filepath.Join(dir, "data"),
		"clientPort":         port,
		"clientPortAddress":  "127.0.0.1",
		"maxClientCnxns":     "0",
		"admin.enableServer": "false",
	}); err != nil {
		return err
	}
	args := append(append([]string{}, c.cfg.JVMOpts...), "-Xmx256m")
	args = append(args, logArgs(logCfg, dir)...)
	args = append(args, "-Dzookeeper.admin.enableServer=false", "-cp", c.cp,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	c.zk = &process{name: c.cfg.Name + "/zookeeper", dir: dir, args: args}
	if err := c.zk.start(c.java); err != nil {
		return err
	}
	return waitTCP(ctx, c.zk, c.zkAddr)
}

// prepare writes a broker's server.properties and command line.
func (c *Cluster) prepare(b *Broker, logCfg []string) error {
	dir := filepath.Join(c.cfg.Dir, fmt.Sprintf("broker-%d", b.ID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	props := c.brokerProps(b, dir)
	if s := c.cfg.SASLSSL; s != nil {
		ctrl := b.ctrlAddr
		if !kraft(c.cfg.Version) {
			ctrl = "" // ZooKeeper: no controller listener
		}
		sp, err := s.securityProps(b, ctrl, dir)
		if err != nil {
			return err
		}
		maps.Copy(props, sp)
		maps.Copy(props, c.cfg.BrokerProps)
	}
	path := filepath.Join(dir, "server.properties")
	if err := writeProps(path, props); err != nil {
		return err
	}
	args := append(append([]string{}, c.cfg.JVMOpts...), logArgs(logCfg, dir)...)
	args = append(args, "-cp", c.cp, "kafka.Kafka", path)
	b.proc = &process{name: fmt.Sprintf("%s/broker-%d", c.cfg.Name, b.ID), dir: dir, args: args}
	return nil
}

func (c *Cluster) brokerProps(b *Broker, dir string) map[string]string {
	n := len(c.brokers)
	rf := min(n, 3)
	minISR := 1
	if rf > 1 {
		minISR = 2
	}
	p := map[string]string{
		"log.dirs":                                         filepath.Join(dir, "data"),
		"listeners":                                        "PLAINTEXT://" + b.Addr,
		"advertised.listeners":                             "PLAINTEXT://" + b.Addr,
		"inter.broker.listener.name":                       "PLAINTEXT",
		"num.partitions":                                   "1",
		"default.replication.factor":                       strconv.Itoa(rf),
		"auto.create.topics.enable":                        "false",
		"offsets.topic.replication.factor":                 strconv.Itoa(rf),
		"offsets.topic.num.partitions":                     "1",
		"transaction.state.log.replication.factor":         strconv.Itoa(rf),
		"transaction.state.log.min.isr":                    strconv.Itoa(minISR),
		"transaction.state.log.num.partitions":             "1",
		"share.coordinator.state.topic.replication.factor": strconv.Itoa(rf),
		"share.coordinator.state.topic.min.isr":            strconv.Itoa(minISR),
		"group.initial.rebalance.delay.ms":                 "0",
		"log.cleaner.dedupe.buffer.size":                   strconv.Itoa(4 << 20),
		"log.cleaner.threads":                              "1",
		"num.network.threads":                              "2",
		"num.io.threads":                                   "2",
		"background.threads":                               "2",
		"num.recovery.threads.per.data.dir":                "1",
		"num.replica.fetchers":                             "1",
	}
	if kraft(c.cfg.Version) {
		var voters []string
		for _, o := range c.brokers {
			voters = append(voters, fmt.Sprintf("%d@%s", o.ID, o.ctrlAddr))
		}
		maps.Copy(p, map[string]string{
			"process.roles":                  "broker,controller",
			"node.id":                        strconv.Itoa(int(b.ID)),
			"controller.quorum.voters":       strings.Join(voters, ","),
			"listeners":                      "PLAINTEXT://" + b.Addr + ",CONTROLLER://" + b.ctrlAddr,
			"controller.listener.names":      "CONTROLLER",
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"broker.session.timeout.ms":      "6000",
		})
	} else {
		maps.Copy(p, map[string]string{
			"broker.id":                    strconv.Itoa(int(b.ID)),
			"zookeeper.connect":            c.zkAddr,
			"zookeeper.session.timeout.ms": "6000",
		})
	}
	maps.Copy(p, c.cfg.BrokerProps)
	return p
}

// format runs the KRaft storage formatter on every node, concurrently.
func (c *Cluster) format(ctx context.Context) error {
	errs := make([]error, len(c.brokers))
	var wg sync.WaitGroup
	for i, b := range c.brokers {
		wg.Go(func() {
			args := append(append([]string{}, c.cfg.JVMOpts...),
				"-cp", c.cp, "kafka.tools.StorageTool", "format", "--ignore-formatted",
				"-t", c.id, "-c", filepath.Join(b.proc.dir, "server.properties"))
			errs[i] = runJava(ctx, c.java, append(args, c.scramArgs()...)...)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Cluster) scramArgs() []string {
	if c.cfg.SASLSSL == nil {
		return nil
	}
	return c.cfg.SASLSSL.scramArgs()
}

// internalAddrs are the PLAINTEXT listeners Ready uses.
func (c *Cluster) internalAddrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.brokers))
	for i, b := range c.brokers {
		out[i] = b.internalAddr
	}
	return out
}

// Addrs returns the brokers' bootstrap addresses.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.brokers))
	for i, b := range c.brokers {
		out[i] = b.Addr
	}
	return out
}

// Bootstrap returns Addrs joined by commas, as kmigrate's flags take them.
func (c *Cluster) Bootstrap() string { return strings.Join(c.Addrs(), ",") }

// Version returns the Kafka version the cluster runs.
func (c *Cluster) Version() string { return c.cfg.Version }

// KRaft tells whether the cluster runs without ZooKeeper.
func (c *Cluster) KRaft() bool { return kraft(c.cfg.Version) }

// Dir returns the folder holding the nodes' data, configs and logs.
func (c *Cluster) Dir() string { return c.cfg.Dir }

// Broker returns the broker with the given id.
func (c *Cluster) Broker(id int32) (*Broker, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.brokers {
		if b.ID == id {
			return b, nil
		}
	}
	return nil, fmt.Errorf("realkafka: %s has no broker %d", c.cfg.Name, id)
}

// Kill kills broker id with SIGKILL, as a crash would, and waits until it
// is gone.
func (c *Cluster) Kill(id int32) error {
	b, err := c.Broker(id)
	if err != nil {
		return err
	}
	b.proc.kill()
	return nil
}

// Restart starts a killed broker again with its data and ports, and waits
// until the cluster serves with it. A ZooKeeper broker restarted before
// its old session expired exits at once (its id is still registered), so
// early exits are retried until the timeout.
func (c *Cluster) Restart(ctx context.Context, id int32) error {
	b, err := c.Broker(id)
	if err != nil {
		return err
	}
	b.proc.kill()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	for {
		if err := b.proc.start(c.java); err != nil {
			return err
		}
		// The others may still list the killed broker (ZooKeeper keeps
		// its registration for a session timeout), so the cluster's
		// readiness says nothing until this broker itself answers.
		err := c.brokerServes(ctx, b)
		if err == nil {
			return c.Ready(ctx)
		}
		if b.proc.running() || ctx.Err() != nil {
			return fmt.Errorf("realkafka: restart %s: %w", b.proc.name, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Logs returns the tail of every node's logs, for a failing test.
func (c *Cluster) Logs(lines int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	if c.zk != nil {
		b.WriteString(c.zk.logTail(lines))
	}
	for _, br := range c.brokers {
		if br.proc != nil {
			b.WriteString(br.proc.logTail(lines))
		}
	}
	return b.String()
}

// Stop kills every node and removes the cluster's folder if Start made it.
// It is safe to call more than once.
func (c *Cluster) Stop() {
	c.killAll()
	if c.tempDir {
		os.RemoveAll(c.cfg.Dir)
	}
}

func (c *Cluster) killAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.brokers {
		if b.proc != nil {
			b.proc.kill()
		}
	}
	if c.zk != nil {
		c.zk.kill()
	}
}

// newClusterID returns a random id in Kafka's Uuid form (base64url of 16
// bytes), as kafka-storage random-uuid prints it.
func newClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails, see its doc
	b[0] &= 0x7f           // Kafka rejects ids starting with '-'
	return base64.RawURLEncoding.EncodeToString(b[:])
}
