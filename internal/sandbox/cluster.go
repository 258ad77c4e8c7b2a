package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerConfigs are set on both clusters. Kafka drops the committed offsets
// of a group that has been empty for offsets.retention.minutes (7 days), and
// kfake does the same. A sandbox restarted after a week would lose the
// sample groups, which is the opposite of why it persists, so offsets are
// kept for as long as Kafka allows (the config is an int32 of minutes).
var brokerConfigs = map[string]string{
	"offsets.retention.minutes": "2147483647",
}

// startCluster starts one kfake cluster that persists into dir, and asks it
// over the wire who it is: the answer is the truth about its id, whether it
// was restored, and proof that it serves requests.
func startCluster(ctx context.Context, role, dir string, ports []int, logger *slog.Logger) (*kfake.Cluster, Endpoint, error) {
	freshID, err := newClusterID()
	if err != nil {
		return nil, Endpoint{}, err
	}
	logger = logger.With("cluster", role)
	c, err := kfake.NewCluster(
		kfake.Ports(ports...),
		// Used only when dir holds no state. With state, kfake keeps
		// the id it saved in meta.json on the first start.
		kfake.ClusterID(freshID),
		kfake.DataDir(dir),
		kfake.BrokerConfigs(brokerConfigs),
		kfake.WithLogger(kfakeLogger{logger}),
	)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "listen" {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, Endpoint{}, &PortInUseError{Role: role, Port: opPort(opErr), Err: err}
			}
			return nil, Endpoint{}, fmt.Errorf("%s cluster: %w", role, err)
		}
		// Anything else comes from reading the saved state.
		return nil, Endpoint{}, fmt.Errorf("%s cluster: load saved state from %q (a reset starts over): %w",
			role, dir, err)
	}

	addrs := c.ListenAddrs()
	id, err := clusterID(ctx, addrs)
	if err != nil {
		c.Close()
		return nil, Endpoint{}, fmt.Errorf("%s cluster: %w", role, err)
	}
	ep := Endpoint{ID: id, Bootstrap: addrs, Dir: dir, Restored: id != freshID}
	logger.Debug("sandbox cluster started", "cluster_id", ep.ID, "bootstrap", addrs, "restored", ep.Restored)
	return c, ep, nil
}

// clusterID asks the cluster at addrs for its id.
func clusterID(ctx context.Context, addrs []string) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return "", fmt.Errorf("create client: %w", err)
	}
	defer cl.Close()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return "", fmt.Errorf("read cluster metadata: %w", err)
	}
	return m.Cluster, nil
}

// newClusterID returns an id in Kafka's format: 16 random bytes, URL-safe
// base64 without padding (22 characters). Like Kafka's Uuid.randomUuid it
// avoids a leading '-', which command-line tools would read as a flag.
// Two random ids differ from their first characters on, so the source and
// target are told apart at a glance without a prefix that real ids lack.
func newClusterID() (string, error) {
	var b [16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("generate cluster id: %w", err)
		}
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id, nil
		}
	}
}

// opPort is the port a failed listen was for.
func opPort(e *net.OpError) int {
	if a, ok := e.Addr.(*net.TCPAddr); ok {
		return a.Port
	}
	if e.Addr != nil {
		if _, p, err := net.SplitHostPort(e.Addr.String()); err == nil {
			n, _ := strconv.Atoi(p)
			return n
		}
	}
	return 0
}

// kfakeLogger sends kfake's logs to slog. kfake logs client requests and
// group membership at info; for a sandbox user those are debugging detail.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelDebug
	default:
		lvl = slog.LevelDebug - 4
	}
	ctx := context.Background()
	if !k.l.Enabled(ctx, lvl) {
		return
	}
	k.l.Log(ctx, lvl, fmt.Sprintf(format, args...))
}
