package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/cluster"
)

// ErrTransactionalID: the credentials may not use the migration's
// transactional id, which exactly-once mirroring produces with.
var ErrTransactionalID = errors.New("the credentials may not use the migration's transactional id")

// TransactionalID checks, without writing, that the credentials of cl may
// use transactional id id: FindCoordinator for it needs DESCRIBE on it,
// which WRITE implies, so credentials with neither are refused here instead
// of after the mirror created topics. (DESCRIBE without WRITE passes: only
// producing can tell.)
func TransactionalID(ctx context.Context, cl *kgo.Client, id string) error {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = 1 // transaction
	req.CoordinatorKey = id
	req.CoordinatorKeys = []string{id}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("find the coordinator of transactional id %s: %w", id, err)
	}
	code := resp.ErrorCode
	for _, c := range resp.Coordinators {
		if c.Key == id {
			code = c.ErrorCode
		}
	}
	if err := kerr.ErrorForCode(code); errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		return fmt.Errorf("%w %s (%v): grant WRITE and DESCRIBE on the transactional id %s (or the prefix kmigrate-), or use --guarantee at-least-once", ErrTransactionalID, id, err, id)
	}
	return nil
}

// createAccess answers whether the credentials may create the topics a
// migration creates on the target (names, and the state topic). Cluster
// CREATE allows all; without it Kafka still lets CREATE on a topic or a
// prefix create that topic, so each is asked with a validate-only
// CreateTopics, which checks the authorization and creates nothing.
func createAccess(ctx context.Context, cl *kgo.Client, info *cluster.Info, names []string) Access {
	const what = "create topics"
	if allowed, known := cluster.Allowed(info.ClusterOps, kmsg.ACLOperationCreate); allowed && known {
		return Access{What: what, Status: Yes}
	}
	if len(names) == 0 {
		return clusterOp(info, what, kmsg.ACLOperationCreate)
	}
	resps, err := kadm.NewClient(cl).ValidateCreateTopics(ctx, 1, -1, nil, names...)
	if err != nil {
		return clusterOp(info, what, kmsg.ACLOperationCreate)
	}
	var denied []string
	for _, r := range resps.Sorted() {
		if errors.Is(r.Err, kerr.TopicAuthorizationFailed) || errors.Is(r.Err, kerr.ClusterAuthorizationFailed) {
			denied = append(denied, r.Topic)
		}
	}
	if len(denied) > 0 {
		slices.Sort(denied)
		return Access{What: what, Status: No, Detail: "denied on " + firstFew(denied)}
	}
	return Access{What: what, Status: Yes, Detail: fmt.Sprintf("the %d topics it creates, per topic (no cluster-wide CREATE)", len(names))}
}
