// Package preflight answers, before a migration writes anything, whether it
// can run: both clusters answer with the given security settings, they are
// two different clusters, they support what kmigrate needs, and the
// credentials may do what the migration will do.
//
// It is read-only by construction: it sends only ApiVersions, Metadata,
// DescribeCluster, ListGroups and DescribeGroups requests. Permissions are
// judged from the authorized-operations fields brokers return (KIP-430);
// where a cluster does not report them the answer is "unknown", never a
// guess.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/state"
)

// Status is the answer to "may the credentials do this?".
type Status string

// Possible answers.
const (
	Yes     Status = "yes"
	No      Status = "no"
	Unknown Status = "unknown"
)

// Access is one capability the migration needs on one cluster.
type Access struct {
	What   string `json:"what"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Optional accesses only warn when denied.
	Optional bool `json:"optional,omitempty"`
}

// Side is the check result for one cluster.
type Side struct {
	*cluster.Info
	// SelectedTopics are the topics matching the topic selection (on the
	// source: what would be mirrored; on the target: those that already
	// exist under the same name).
	SelectedTopics []string `json:"selected_topics"`
	// SelectedGroups are the groups matching the group selection.
	SelectedGroups []string `json:"selected_groups"`
	Access         []Access `json:"access"`
}

// Report is the result of a check.
type Report struct {
	Source   *Side    `json:"source"`
	Target   *Side    `json:"target"`
	Problems []string `json:"problems"` // each one blocks the migration
	Warnings []string `json:"warnings"`
}

// OK reports whether the check found nothing blocking.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Run probes both clusters concurrently and evaluates them against cfg. A
// cluster that cannot be reached, or source and target being one cluster,
// is an error (a *cluster.ConnectError, or one matching
// cluster.ErrSameCluster); missing permissions and features are Problems in
// the report.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Report, error) {
	var (
		wg             sync.WaitGroup
		src, tgt       *Side
		srcCl, tgtCl   *kgo.Client
		srcErr, tgtErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); src, srcCl, srcErr = probeSide(ctx, &cfg.Source, cfg, logger) }()
	go func() { defer wg.Done(); tgt, tgtCl, tgtErr = probeSide(ctx, &cfg.Target, cfg, logger) }()
	wg.Wait()
	for _, cl := range []*kgo.Client{srcCl, tgtCl} {
		if cl != nil {
			defer cl.Close()
		}
	}
	if err := errors.Join(srcErr, tgtErr); err != nil {
		return nil, err
	}
	if err := SameCluster(src.Info, tgt.Info); err != nil {
		return nil, err
	}
	// The groups that matter on the target are the source's selected
	// groups: those are the ones whose offsets will be committed there.
	srcGroups, err := groupOps(ctx, srcCl, &cfg.Source, src.SelectedGroups)
	if err != nil {
		return nil, err
	}
	tgtGroups, err := groupOps(ctx, tgtCl, &cfg.Target, src.SelectedGroups)
	if err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		name = state.DefaultName(src.Info.ClusterID, tgt.Info.ClusterID)
	}
	src.Access = sourceAccess(src.Info, src.SelectedTopics, srcGroups)
	create := createAccess(ctx, tgtCl, tgt.Info, toCreate(cfg, src, tgt, name))
	tgt.Access = targetAccess(tgt.Info, create, tgt.SelectedTopics, tgtGroups)
	if cfg.Mirror.Guarantee == config.ExactlyOnce {
		id := state.TransactionalID(name)
		a := Access{What: "use the transactional id " + id, Status: Yes}
		if err := TransactionalID(ctx, tgtCl, id); errors.Is(err, ErrTransactionalID) {
			a.Status, a.Detail = No, "grant WRITE and DESCRIBE on it (or the prefix kmigrate-), or use --guarantee at-least-once"
		}
		tgt.Access = append(tgt.Access, a)
	}
	r := &Report{Source: src, Target: tgt, Problems: []string{}, Warnings: []string{}}
	r.evaluate()
	return r, nil
}

// toCreate is the target topics a migration would create: the selected
// source topics' target names the target lacks, and the state topic.
func toCreate(cfg *config.Config, src, tgt *Side, name string) []string {
	exists := map[string]bool{}
	for _, t := range tgt.Info.Topics {
		exists[t.Name] = true
	}
	var out []string
	for _, s := range src.SelectedTopics {
		if n := cfg.Topics.TargetName(s); !exists[n] {
			out = append(out, n)
		}
	}
	if st := state.TopicName(name); !exists[st] {
		out = append(out, st)
	}
	return out
}

// SameCluster returns an error matching cluster.ErrSameCluster when src and
// tgt are one cluster: the same cluster id, or, for clusters that report no
// id, a broker address in common.
func SameCluster(src, tgt *cluster.Info) error {
	if src.ClusterID != "" && src.ClusterID == tgt.ClusterID {
		return fmt.Errorf("%w (cluster id %s): mirroring a cluster onto itself would write its topics into themselves; point --target at the new cluster", cluster.ErrSameCluster, src.ClusterID)
	}
	if src.ClusterID == "" || tgt.ClusterID == "" {
		for _, a := range src.Brokers {
			for _, b := range tgt.Brokers {
				if a.Addr() == b.Addr() {
					return fmt.Errorf("%w (both have broker %s): mirroring a cluster onto itself would write its topics into themselves; point --target at the new cluster", cluster.ErrSameCluster, a.Addr())
				}
			}
		}
	}
	return nil
}

// probeSide connects to c and probes it. The caller closes the returned
// client, also when err is not nil.
func probeSide(ctx context.Context, c *config.Cluster, cfg *config.Config, logger *slog.Logger) (*Side, *kgo.Client, error) {
	cl, err := cluster.Connect(ctx, c, logger)
	if err != nil {
		return nil, nil, err
	}
	info, err := cluster.Probe(ctx, cl, c)
	if err != nil {
		return nil, cl, err
	}
	s := &Side{Info: info, SelectedTopics: []string{}}
	for _, t := range info.Topics {
		if !t.Internal && cfg.Topics.Match(t.Name) {
			s.SelectedTopics = append(s.SelectedTopics, t.Name)
		}
	}
	s.SelectedGroups, err = listGroups(ctx, cl, c, cfg, logger)
	return s, cl, err
}

// listGroups lists the groups on c that match the group selection, sorted.
func listGroups(ctx context.Context, cl *kgo.Client, c *config.Cluster, cfg *config.Config, logger *slog.Logger) ([]string, error) {
	tctx, cancel := context.WithTimeout(ctx, c.Timeout())
	defer cancel()
	listed, err := kadm.NewClient(cl).ListGroups(tctx)
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) {
			return nil, fmt.Errorf("%s: list groups: %w", c.Role, err)
		}
		// Some brokers answered: use what they listed.
		logger.Warn("some brokers did not list their groups", "cluster", c.Role, "err", err)
	}
	names := []string{}
	for _, g := range listed.Sorted() {
		if cfg.Groups.Match(g.Group) {
			names = append(names, g.Group)
		}
	}
	return names, nil
}

// groupOps returns what the credentials of cl may do with each group.
func groupOps(ctx context.Context, cl *kgo.Client, c *config.Cluster, groups []string) (map[string][]kmsg.ACLOperation, error) {
	tctx, cancel := context.WithTimeout(ctx, c.Timeout())
	defer cancel()
	ops, err := cluster.GroupOps(tctx, cl, groups)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Role, err)
	}
	return ops, nil
}
