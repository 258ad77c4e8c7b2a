package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Info is what a probe learns about a cluster without writing anything.
type Info struct {
	Role         string   `json:"role"`
	Bootstrap    []string `json:"bootstrap"`
	ClusterID    string   `json:"cluster_id"`
	ControllerID int32    `json:"controller_id"`
	Brokers      []Broker `json:"brokers"`
	// VersionGuess is franz-go's guess of the Kafka version from the API
	// versions the brokers advertise ("v3.7", "at least v4.0", ...).
	VersionGuess string `json:"version_guess"`
	// APIs are the API versions that matter to a migration, lowest common
	// maximum across the brokers.
	APIs     []API    `json:"apis"`
	Features Features `json:"features"`
	// ClusterOps are the cluster-level operations the credentials may
	// perform; nil when the cluster does not report them.
	ClusterOps []kmsg.ACLOperation `json:"-"`
	// Topics are the topics the credentials can see, with the operations
	// they may perform on each (nil when not reported).
	Topics []TopicAccess `json:"-"`
}

// Broker is one broker of the cluster.
type Broker struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	Rack string `json:"rack,omitempty"`
}

// Addr returns host:port.
func (b Broker) Addr() string { return net.JoinHostPort(b.Host, fmt.Sprint(b.Port)) }

// API is one Kafka API and the highest version every broker supports, -1
// when some broker does not support it at all.
type API struct {
	Key     int16  `json:"key"`
	Name    string `json:"name"`
	Max     int16  `json:"max_version"`
	Purpose string `json:"purpose"`
}

// Supported reports whether every broker supports the API.
func (a API) Supported() bool { return a.Max >= 0 }

// Features summarises the APIs into the capabilities kmigrate uses.
type Features struct {
	Idempotence        bool `json:"idempotence"`
	Transactions       bool `json:"transactions"`
	DeleteRecords      bool `json:"delete_records"`
	IncrementalConfigs bool `json:"incremental_alter_configs"`
	KIP848Groups       bool `json:"kip848_consumer_groups"`
}

// TopicAccess is a visible topic and what the credentials may do with it.
type TopicAccess struct {
	Name     string
	Internal bool
	Ops      []kmsg.ACLOperation // nil when the cluster did not report
}

// keyAPIs are the APIs reported by check, in report order.
var keyAPIs = []struct {
	key     int16
	purpose string
}{
	{0, "write records"},
	{1, "read records"},
	{2, "find offsets"},
	{3, "metadata"},
	{19, "create topics"},
	{37, "add partitions"},
	{32, "read topic configs"},
	{44, "incremental config changes"},
	{22, "idempotent and transactional producers"},
	{24, "transactions"},
	{25, "transactions"},
	{26, "transactions"},
	{28, "transactional offset commits"},
	{21, "delete records"},
	{8, "commit offsets"},
	{9, "read committed offsets"},
	{15, "describe groups"},
	{16, "list groups"},
	{68, "KIP-848 consumer groups"},
	{69, "KIP-848 consumer groups"},
	{60, "describe cluster"},
}

// connHook remembers the last failed connection attempt so that a request
// that times out can say why: franz-go retries failed connections until the
// context ends and then reports only the context error.
type connHook struct {
	mu      sync.Mutex
	lastErr error
	ok      bool
}

func (h *connHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.lastErr = err
	} else {
		h.ok = true
	}
}

func (h *connHook) last() (error, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr, h.ok
}

// Connect opens a client to c and checks that it can talk to the cluster
// within c's connect timeout, returning a classified *ConnectError when it
// cannot. The caller closes the client.
func Connect(ctx context.Context, c *config.Cluster, logger *slog.Logger, opts ...kgo.Opt) (*kgo.Client, error) {
	hook := new(connHook)
	cl, err := NewClient(c, logger, append([]kgo.Opt{kgo.WithHooks(hook)}, opts...)...)
	if err != nil {
		return nil, err
	}
	if err := ping(ctx, cl, c.Timeout()); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err() // the caller cancelled: not the cluster's fault
		}
		return nil, explain(ctx, c, logger, hook, err)
	}
	return cl, nil
}

// ping sends ApiVersions and waits at most timeout. franz-go does not
// always honour a request's context while a connection is being set up (it
// waits for its own read deadline), so the wait is bounded here; the
// caller's Close ends the abandoned request.
func ping(ctx context.Context, cl *kgo.Client, timeout time.Duration) error {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		req := kmsg.NewPtrApiVersionsRequest()
		_, err := req.RequestWith(tctx, cl)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-tctx.Done():
		return tctx.Err()
	}
}

// explain turns err, which a request returned, into the most useful error
// it can, using what the hook saw of the connection attempts and, when that
// is ambiguous, a diagnostic round trip.
func explain(ctx context.Context, c *config.Cluster, logger *slog.Logger, hook *connHook, err error) error {
	last, _ := hook.last()
	timedOut := errors.Is(err, context.DeadlineExceeded)
	var ce *ConnectError
	if !timedOut {
		ce = classify(c, err)
	}
	if ce == nil {
		ce = classify(c, last)
	}
	if ce == nil && timedOut {
		ce = &ConnectError{Role: c.Role, Bootstrap: c.Bootstrap, Kind: ErrUnreachable,
			Err:  fmt.Errorf("no response within %s", c.Timeout()),
			Hint: fmt.Sprintf("no broker answered within the connect timeout of %s: check the address, firewalls and that the cluster is running, or raise connect_timeout", c.Timeout())}
	}
	if ce == nil {
		return fmt.Errorf("%s: %w", c.Role, err)
	}
	switch ce.Kind {
	case ErrProtocol:
		if d := diagnoseSASL(ctx, c, logger); d != nil {
			return d
		}
	case ErrUnreachable:
		if d := diagnoseTLSSilence(ctx, c); d != nil {
			return d
		}
	}
	return ce
}

// Probe reads, through cl (connected to c with Connect), the cluster's
// identity, brokers, API versions and the operations the credentials may
// perform. It writes nothing.
func Probe(ctx context.Context, cl *kgo.Client, c *config.Cluster) (*Info, error) {
	tctx, cancel := context.WithTimeout(ctx, c.Timeout())
	defer cancel()

	info := &Info{Role: c.Role, Bootstrap: c.Bootstrap}
	adm := kadm.NewClient(cl)
	vers, err := adm.ApiVersions(tctx)
	if err != nil {
		return nil, fmt.Errorf("%s: read api versions: %w", c.Role, err)
	}
	info.APIs, info.VersionGuess = summariseVersions(vers)
	info.Features = features(info.APIs)

	mreq := kmsg.NewPtrMetadataRequest()
	mreq.IncludeTopicAuthorizedOperations = true
	mreq.IncludeClusterAuthorizedOperations = true // honoured by v8-v10 only
	mresp, err := mreq.RequestWith(tctx, cl)
	if err != nil {
		return nil, fmt.Errorf("%s: read metadata: %w", c.Role, err)
	}
	if mresp.ClusterID != nil {
		info.ClusterID = *mresp.ClusterID
	}
	info.ControllerID = mresp.ControllerID
	for _, b := range mresp.Brokers {
		br := Broker{ID: b.NodeID, Host: b.Host, Port: b.Port}
		if b.Rack != nil {
			br.Rack = *b.Rack
		}
		info.Brokers = append(info.Brokers, br)
	}
	slices.SortFunc(info.Brokers, func(a, b Broker) int { return int(a.ID) - int(b.ID) })
	for _, t := range mresp.Topics {
		if t.Topic == nil || t.ErrorCode == kerr.TopicAuthorizationFailed.Code {
			continue
		}
		info.Topics = append(info.Topics, TopicAccess{Name: *t.Topic, Internal: t.IsInternal, Ops: decodeOps(t.AuthorizedOperations)})
	}
	slices.SortFunc(info.Topics, func(a, b TopicAccess) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	info.ClusterOps = decodeOps(mresp.AuthorizedOperations)
	if info.ClusterOps == nil && supports(info.APIs, 60) {
		dreq := kmsg.NewPtrDescribeClusterRequest()
		dreq.IncludeClusterAuthorizedOperations = true
		if dresp, err := dreq.RequestWith(tctx, cl); err == nil && dresp.ErrorCode == 0 {
			info.ClusterOps = decodeOps(dresp.ClusterAuthorizedOperations)
		}
	}
	return info, nil
}

// GroupOps returns the operations the credentials of cl may perform on each
// group, as DescribeGroups reports them (nil entries when not reported).
func GroupOps(ctx context.Context, cl *kgo.Client, groups []string) (map[string][]kmsg.ACLOperation, error) {
	out := make(map[string][]kmsg.ACLOperation, len(groups))
	if len(groups) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = groups
	req.IncludeAuthorizedOperations = true
	shards := cl.RequestSharded(ctx, req)
	for _, sh := range shards {
		if sh.Err != nil {
			return nil, fmt.Errorf("describe groups: %w", sh.Err)
		}
		for _, g := range sh.Resp.(*kmsg.DescribeGroupsResponse).Groups {
			if g.ErrorCode == kerr.GroupAuthorizationFailed.Code {
				out[g.Group] = []kmsg.ACLOperation{}
				continue
			}
			out[g.Group] = decodeOps(g.AuthorizedOperations)
		}
	}
	return out, nil
}

// decodeOps decodes an authorized-operations bit field; nil means the
// cluster did not report (Kafka sends math.MinInt32).
func decodeOps(bits int32) []kmsg.ACLOperation {
	if bits == math.MinInt32 {
		return nil
	}
	ops := []kmsg.ACLOperation{}
	for i := range int32(31) {
		if bits&(1<<i) != 0 {
			ops = append(ops, kmsg.ACLOperation(i))
		}
	}
	return ops
}

// Allowed reports whether op is in ops; known is false when ops is nil
// (not reported).
func Allowed(ops []kmsg.ACLOperation, op kmsg.ACLOperation) (allowed, known bool) {
	if ops == nil {
		return false, false
	}
	return slices.Contains(ops, op) || slices.Contains(ops, kmsg.ACLOperationAll), true
}

func summariseVersions(vers kadm.BrokersApiVersions) ([]API, string) {
	var ok []kadm.BrokerApiVersions
	for _, b := range vers.Sorted() {
		if b.Err == nil {
			ok = append(ok, b)
		}
	}
	apis := make([]API, 0, len(keyAPIs))
	for _, k := range keyAPIs {
		a := API{Key: k.key, Name: kmsg.NameForKey(k.key), Max: -1, Purpose: k.purpose}
		for i, b := range ok {
			maxV, exists := b.KeyMaxVersion(k.key)
			if !exists {
				maxV = -1
			}
			if i == 0 {
				a.Max = maxV
			}
			a.Max = min(a.Max, maxV)
		}
		apis = append(apis, a)
	}
	guess := "unknown"
	if len(ok) > 0 {
		guess = honestGuess(ok[0].VersionGuess())
	}
	return apis, guess
}

// honestGuess keeps franz-go's version guess when it names a release ("v3.9",
// "at least v4.0") and says what is known otherwise: a broker whose API
// versions match no Apache Kafka release (Redpanda, an emulator such as
// kfake, a fork) gets "between v1.0 and v1.1" or "unknown" from the
// guesser, which would be wrong as a version. Its features and API versions
// are printed next to it.
func honestGuess(g string) string {
	if strings.HasPrefix(g, "v") || strings.HasPrefix(g, "at least") {
		return g
	}
	return "unknown: its API versions match no Apache Kafka release (a compatible implementation or a fork); see its features and API versions"
}

func supports(apis []API, key int16) bool {
	for _, a := range apis {
		if a.Key == key {
			return a.Supported()
		}
	}
	return false
}

func features(apis []API) Features {
	return Features{
		Idempotence:        supports(apis, 22),
		Transactions:       supports(apis, 22) && supports(apis, 24) && supports(apis, 25) && supports(apis, 26) && supports(apis, 28),
		DeleteRecords:      supports(apis, 21),
		IncrementalConfigs: supports(apis, 44),
		KIP848Groups:       supports(apis, 68),
	}
}
