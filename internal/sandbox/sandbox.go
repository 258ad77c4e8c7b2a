package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Default ports of `kmigrate sandbox`: brokers listen on consecutive ports
// from these, away from Kafka's 9092 so a real local Kafka can run beside.
const (
	SourceBasePort = 19092
	TargetBasePort = 29092
	DefaultBrokers = 3
)

// Config says where and how to run the two clusters.
type Config struct {
	// Dir holds the clusters' data, in Dir/source and Dir/target. It is
	// created if missing; a non-empty Dir must carry the marker file an
	// earlier Start wrote (see ErrNotSandboxDir).
	Dir string
	// SourcePorts and TargetPorts have one port per broker, so their
	// lengths are the clusters' sizes. Port 0 picks a free port, which is
	// what tests and the demo want.
	SourcePorts, TargetPorts []int
	// Reset deletes the clusters' data in Dir before starting.
	Reset bool
	// Logger receives the clusters' logs (kfake's request-level logs at
	// debug). Nil discards them.
	Logger *slog.Logger
}

// Endpoint is how to reach one cluster of the sandbox.
type Endpoint struct {
	ID        string   // cluster id, kept across restarts
	Bootstrap []string // host:port of every broker
	Dir       string   // where the cluster keeps its data
	Restored  bool     // the data is from an earlier run
}

// Sandbox is a running pair of local clusters. Close it to save their
// state and free the ports and the data directory.
type Sandbox struct {
	source, target Endpoint
	clusters       []*kfake.Cluster // source, target
	lock           *dirLock

	closeOnce sync.Once
	closeErr  error
}

// DefaultDir is where `kmigrate sandbox` keeps its data unless told
// otherwise: the user's cache directory, since the data is disposable.
func DefaultDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find user cache directory: %w", err)
	}
	return filepath.Join(dir, "kmigrate", "sandbox"), nil
}

// DefaultPorts returns n consecutive ports from base: DefaultPorts(19092, 3)
// is 19092, 19093, 19094. For n free random ports use make([]int, n).
func DefaultPorts(base, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		ports[i] = base + i
	}
	return ports
}

// Start starts the source and the target cluster with the data in cfg.Dir.
// On error, nothing is left running and the directory is unlocked. Start
// returns when both clusters answer requests; it does not block.
func Start(ctx context.Context, cfg Config) (_ *Sandbox, err error) {
	if err := validatePorts(cfg.SourcePorts, cfg.TargetPorts); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	lock, err := openDir(cfg.Dir, cfg.Reset)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{lock: lock}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if cfg.Reset {
		logger.Info("sandbox data deleted", "dir", cfg.Dir)
	}

	c, ep, err := startCluster(ctx, "source", filepath.Join(cfg.Dir, sourceSubdir), cfg.SourcePorts, logger)
	if err != nil {
		return nil, err
	}
	s.clusters, s.source = append(s.clusters, c), ep
	c, ep, err = startCluster(ctx, "target", filepath.Join(cfg.Dir, targetSubdir), cfg.TargetPorts, logger)
	if err != nil {
		return nil, err
	}
	s.clusters, s.target = append(s.clusters, c), ep

	// A copied data directory would give both clusters one id, and
	// kmigrate rightly refuses to migrate a cluster onto itself.
	if s.source.ID == s.target.ID {
		return nil, fmt.Errorf("source and target have the same cluster id %q (was one data directory copied to the other?); reset the sandbox in %q",
			s.source.ID, cfg.Dir)
	}
	return s, nil
}

// validatePorts catches what would otherwise fail half-way through Start.
func validatePorts(source, target []int) error {
	seen := make(map[int]string)
	for _, c := range []struct {
		role  string
		ports []int
	}{{"source", source}, {"target", target}} {
		if len(c.ports) == 0 {
			return fmt.Errorf("%s cluster: no broker ports given", c.role)
		}
		for _, p := range c.ports {
			if p < 0 || p > 65535 {
				return fmt.Errorf("%s cluster: port %d out of range", c.role, p)
			}
			if p == 0 {
				continue
			}
			if other, ok := seen[p]; ok && other == c.role {
				return fmt.Errorf("%s cluster: port %d is given twice", c.role, p)
			} else if ok {
				return fmt.Errorf("%s cluster: port %d is also given to the %s cluster", c.role, p, other)
			}
			seen[p] = c.role
		}
	}
	return nil
}

// Source is the cluster with the sample data.
func (s *Sandbox) Source() Endpoint { return s.source }

// Target is the empty cluster to migrate to.
func (s *Sandbox) Target() Endpoint { return s.target }

// Close stops both clusters, which saves their state, and unlocks the
// data directory. It is safe to call more than once. kfake reports a
// failure to save only to the logger, at error level.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		for _, c := range s.clusters {
			c.Close()
		}
		s.closeErr = s.lock.release()
	})
	return s.closeErr
}
