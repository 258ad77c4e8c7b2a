package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
)

// The environment variables that point External() tests at real clusters.
const (
	EnvSource = "KMIGRATE_TEST_SOURCE"
	EnvTarget = "KMIGRATE_TEST_TARGET"
)

// opTimeout bounds every helper call against a cluster, so that a broken
// cluster fails the test with a message instead of hanging until go test's
// global timeout.
const opTimeout = 30 * time.Second

// Cluster is one test cluster: an in-process kfake cluster, or an external
// cluster named by the environment (see External).
type Cluster struct {
	// Addrs are the bootstrap addresses, host:port.
	Addrs []string
	// ID is the cluster id the brokers report.
	ID string
	// Config connects to the cluster exactly as a user's configuration
	// would: role, bootstrap and security settings. Hand it to the product
	// code under test.
	Config config.Cluster
	// Kfake is the fake cluster, for fault injection (ControlKey) and
	// restarts; nil when the cluster is external.
	Kfake *kfake.Cluster
	// TLSFiles are the generated certificates when the cluster uses TLS.
	TLSFiles TLSFiles

	// helper produces and administers for the helper methods. It
	// partitions manually: tests assert exact offsets, so where a record
	// lands must not depend on a partitioner.
	helper *kgo.Client
	admin  *kadm.Client
}

// Pair is a source and a target cluster, as a migration sees them.
type Pair struct {
	Source, Target *Cluster
}

// New starts a cluster that lives until the test ends. It fails the test if
// the cluster cannot start or cannot be reached with its own Config.
func New(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	s := defaultSettings()
	for _, o := range opts {
		o.apply(&s)
	}
	if err := s.validate(); err != nil {
		t.Fatalf("kafkatest.New: %v", err)
	}
	return start(t, s)
}

// NewPair starts a source and a target cluster with the same options and
// different random cluster ids (external clusters must differ too). With DataDir(dir) they persist in
// dir/source and dir/target.
func NewPair(t testing.TB, opts ...Option) *Pair {
	t.Helper()
	s := defaultSettings()
	for _, o := range opts {
		o.apply(&s)
	}
	if err := s.validate(); err != nil {
		t.Fatalf("kafkatest.NewPair: %v", err)
	}
	if s.clusterID != "" {
		t.Fatalf("kafkatest.NewPair: ClusterID(%q) would give both clusters the same id; build the pair from two New calls with Role and ClusterID", s.clusterID)
	}
	if s.external {
		src, tgt := os.Getenv(EnvSource) != "", os.Getenv(EnvTarget) != ""
		if src != tgt {
			t.Fatalf("kafkatest.NewPair: set both %s and %s to test against external clusters, or neither", EnvSource, EnvTarget)
		}
	}
	side := func(role string) *Cluster {
		t.Helper()
		s := s
		s.role = role
		if s.dataDir != "" {
			s.dataDir = filepath.Join(s.dataDir, role)
		}
		return start(t, s)
	}
	p := &Pair{Source: side("source"), Target: side("target")}
	if p.Source.ID == p.Target.ID {
		t.Fatalf("kafkatest.NewPair: source %v and target %v are one cluster (id %q); a migration needs two", p.Source.Addrs, p.Target.Addrs, p.Source.ID)
	}
	return p
}

// Connect returns the Cluster for a running PLAINTEXT cluster at addrs,
// such as a real Kafka cluster from package realkafka, with role as its
// Config's Role. Like an External() cluster it has no Kfake, and the
// topics its CreateTopic makes are deleted when the test ends.
func Connect(t testing.TB, role string, addrs []string) *Cluster {
	t.Helper()
	return ConnectConfig(t, config.Cluster{Role: role, Bootstrap: addrs, SecurityProtocol: config.Plaintext})
}

// ConnectConfig is Connect for a cluster that needs security settings:
// cfg is used as the Cluster's Config (its Bootstrap as Addrs).
func ConnectConfig(t testing.TB, cfg config.Cluster) *Cluster {
	t.Helper()
	c := &Cluster{Addrs: cfg.Bootstrap, Config: cfg}
	c.connect(t)
	return c
}

func start(t testing.TB, s settings) *Cluster {
	t.Helper()
	if s.external {
		if addrs := externalAddrs(t, s.role); len(addrs) > 0 {
			return Connect(t, s.role, addrs)
		}
	}
	id := s.clusterID
	if id == "" {
		id = randomClusterID()
	}
	kopts := []kfake.Opt{kfake.NumBrokers(s.brokers), kfake.ClusterID(id)}
	cfg := config.Cluster{Role: s.role, SecurityProtocol: s.protocol()}
	var files TLSFiles
	if s.tls {
		var err error
		if files, err = GenerateTLS(t.TempDir()); err != nil {
			t.Fatalf("kafkatest: %s: %v", s.role, err)
		}
		tc, err := files.ServerConfig(s.mutualTLS)
		if err != nil {
			t.Fatalf("kafkatest: %s: %v", s.role, err)
		}
		kopts = append(kopts, kfake.TLS(tc))
		cfg.TLS.CAFile = files.CAFile
		if s.mutualTLS {
			cfg.TLS.CertFile, cfg.TLS.KeyFile = files.CertFile, files.KeyFile
		}
	}
	if s.sasl.Mechanism != "" {
		kopts = append(kopts, kfake.EnableSASL(),
			kfake.Superuser(string(s.sasl.Mechanism), s.sasl.Username, s.sasl.Password.Reveal()))
		cfg.SASL = s.sasl
	}
	if s.dataDir != "" {
		kopts = append(kopts, kfake.DataDir(s.dataDir))
	}
	kopts = append(kopts, s.kfakeOpts...)
	kc, err := kfake.NewCluster(kopts...)
	if err != nil {
		t.Fatalf("kafkatest: start %s cluster: %v", s.role, err)
	}
	t.Cleanup(kc.Close)
	addrs := kc.ListenAddrs()
	cfg.Bootstrap = addrs
	c := &Cluster{Addrs: addrs, Config: cfg, Kfake: kc, TLSFiles: files}
	c.connect(t)
	return c
}

// connect creates the helper client and reads the cluster id, which proves
// that Config works before any test relies on it. The id is read rather
// than taken from the options because a DataDir cluster keeps the id it was
// first created with.
func (c *Cluster) connect(t testing.TB) {
	t.Helper()
	helper, err := cluster.NewClient(&c.Config, testLogger(t), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	t.Cleanup(helper.Close)
	c.helper, c.admin = helper, kadm.NewClient(helper)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	m, err := c.admin.BrokerMetadata(ctx)
	if err != nil {
		t.Fatalf("kafkatest: %s cluster %v: metadata: %v", c.Config.Role, c.Addrs, err)
	}
	c.ID = m.Cluster
}

// Client returns a franz-go client for the cluster, built by the product's
// cluster.NewClient from Config with opts appended, and closed when the
// test ends.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cfg := c.Config
	cl, err := cluster.NewClient(&cfg, testLogger(t), opts...)
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client for the cluster, closed when the test ends.
func (c *Cluster) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t))
}

// RequireKfake skips the test when the cluster is external, and otherwise
// returns its kfake cluster. Call it before using kfake-only features such
// as fault injection.
func (c *Cluster) RequireKfake(t testing.TB) *kfake.Cluster {
	t.Helper()
	if c.Kfake == nil {
		t.Skipf("this test needs a kfake cluster, but the %s cluster is the external cluster %v", c.Config.Role, c.Addrs)
	}
	return c.Kfake
}

// externalAddrs returns the bootstrap addresses the environment gives for
// role, or nil.
func externalAddrs(t testing.TB, role string) []string {
	t.Helper()
	var env string
	switch role {
	case "source":
		env = EnvSource
	case "target":
		env = EnvTarget
	default:
		t.Fatalf("kafkatest: External() needs Role \"source\" or \"target\", not %q", role)
	}
	var addrs []string
	for a := range strings.SplitSeq(os.Getenv(env), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// randomClusterID returns an id shaped like Kafka's (a base64url UUID), so
// that product code sees nothing unusual, and different for every cluster,
// so that a pair cannot be mistaken for one cluster.
func randomClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails, see its doc
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// testLogger routes the product's log lines to the test's output, where
// they show up next to the failure they explain.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}
