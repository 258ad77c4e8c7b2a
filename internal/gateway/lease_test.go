package gateway_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestLeaseStopsSourceWrites: a gateway that cannot read the migration's
// state (the target is unreachable) stops writing to the source once its
// lease runs out, answering a retriable error, because another gateway
// could be switching the topic unseen; when the target is back, the
// client's retries go through, once each.
func TestLeaseStopsSourceWrites(t *testing.T) {
	const name, topic = "m1", "orders"
	pair := newPair(t, topic, 3)
	fd := kafkatest.NewFaultDialer()
	opts := gatewayOptions(t, pair, name, topic)
	opts.TargetOpts = []kgo.Opt{kgo.Dialer(fd.DialContext)}
	gw := startGateway(t, pair, opts)
	cl := client(t, gw)
	produceSync(t, cl, topic, 0, 3)

	// A loaded machine may have let the lease lapse already while the
	// first records were written (the client retried them): count only
	// refusals from here on.
	base := gw.Stats().LeaseRefusals
	fd.RefuseFor(time.Hour)
	fd.DropAll()
	// Writes go on until the lease runs out; then one is refused and
	// retried by the client.
	var p asyncProducer
	n := 3
	waitFor(t, func() bool {
		if gw.Stats().LeaseRefusals > base {
			return true
		}
		if p.pending() == 0 {
			p.produce(t.Context(), cl, rec(topic, n))
			n++
		}
		return false
	})
	if acked, errs := p.counts(); acked != n-4 || len(errs) != 0 {
		t.Fatalf("while the lease held: %d acknowledged, errors %v; want %d, none", acked, errs, n-4)
	}
	fd.RefuseFor(0)
	p.wg.Wait()
	if acked, errs := p.counts(); acked != n-3 || len(errs) != 0 {
		t.Fatalf("after the target came back: %d acknowledged, errors %v; want %d, none", acked, errs, n-3)
	}
	assertValues(t, "source", pair.Source.ConsumeAll(t, topic), 0, n, -1)
}
