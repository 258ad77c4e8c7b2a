package realkafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Ready waits until the cluster serves as a client sees it: every broker
// is in the metadata with a controller elected, and the group and
// transaction coordinators are found. Finding them creates
// __consumer_offsets and __transaction_state, which would otherwise cost
// the first test that commits offsets or begins a transaction seconds.
func (c *Cluster) Ready(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.internalAddrs()...), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	if err != nil {
		return err
	}
	defer cl.Close()
	var last error
	for {
		if last = c.readyOnce(ctx, cl); last == nil {
			return nil
		}
		if err := c.exitedNode(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %v)\n%s", c.cfg.Name, ctx.Err(), last, c.Logs(20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) readyOnce(ctx context.Context, cl *kgo.Client) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// A direct request: kadm.BrokerMetadata answers from franz-go's
	// metadata cache, which can keep a broker list older than the
	// brokers that have registered since.
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Topics = []kmsg.MetadataRequestTopic{}
	m, err := mreq.RequestWith(rctx, cl)
	if err != nil {
		return err
	}
	if len(m.Brokers) != len(c.Addrs()) {
		return fmt.Errorf("%d of %d brokers in the metadata", len(m.Brokers), len(c.Addrs()))
	}
	if m.ControllerID < 0 {
		return fmt.Errorf("no controller")
	}
	for _, typ := range []int8{0, 1} { // group, transaction
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType = typ
		req.CoordinatorKeys = []string{"kmigrate-realkafka-ready"}
		req.CoordinatorKey = "kmigrate-realkafka-ready"
		resp, err := req.RequestWith(rctx, cl)
		if err != nil {
			return err
		}
		code := resp.ErrorCode
		if len(resp.Coordinators) > 0 {
			code = resp.Coordinators[0].ErrorCode
		}
		if err := kerr.ErrorForCode(code); err != nil {
			return fmt.Errorf("find coordinator type %d: %w", typ, err)
		}
	}
	return nil
}

// exitedNode returns an error if a node that should run has exited.
func (c *Cluster) exitedNode() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.zk != nil && c.zk.done != nil && !c.zk.running() {
		return c.zk.exited()
	}
	for _, b := range c.brokers {
		if b.proc != nil && b.proc.done != nil && !b.proc.running() {
			return b.proc.exited()
		}
	}
	return nil
}

// brokerServes waits until b itself answers a metadata request that lists
// it, which a broker does only once it has registered and enables request
// processing, or until its process exits.
func (c *Cluster) brokerServes(ctx context.Context, b *Broker) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.internalAddr))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		resp, err := cl.SeedBrokers()[0].RetriableRequest(rctx, req)
		cancel()
		if err == nil {
			for _, br := range resp.(*kmsg.MetadataResponse).Brokers {
				if br.NodeID == b.ID {
					return nil
				}
			}
		}
		select {
		case <-b.proc.done:
			return b.proc.exited()
		case <-ctx.Done():
			return fmt.Errorf("%s does not serve: %w (last: %v)", b.proc.name, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
