package preflight

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/cluster"
)

// optional marks an access the migration can do without.
func optional(a Access) Access {
	a.Optional = true
	return a
}

// notReported explains an Unknown answer.
const notReported = "the cluster does not report permissions for this"

// clusterOp answers whether the cluster-level operation op is allowed.
func clusterOp(info *cluster.Info, what string, op kmsg.ACLOperation) Access {
	allowed, known := cluster.Allowed(info.ClusterOps, op)
	return answer(what, allowed, known, "")
}

func answer(what string, allowed, known bool, detail string) Access {
	switch {
	case !known:
		return Access{What: what, Status: Unknown, Detail: notReported}
	case allowed:
		return Access{What: what, Status: Yes, Detail: detail}
	default:
		return Access{What: what, Status: No, Detail: detail}
	}
}

// topicsOp answers whether op is allowed on every one of the named topics,
// listing (the first few of) those where it is not.
func topicsOp(info *cluster.Info, names []string, what string, op kmsg.ACLOperation) Access {
	if len(names) == 0 {
		return Access{What: what, Status: Unknown, Detail: "no selected topics on this cluster"}
	}
	var denied []string
	known := true
	for _, t := range info.Topics {
		if !slices.Contains(names, t.Name) {
			continue
		}
		allowed, k := cluster.Allowed(t.Ops, op)
		if !k {
			known = false
			break
		}
		if !allowed {
			denied = append(denied, t.Name)
		}
	}
	if !known {
		return Access{What: what, Status: Unknown, Detail: notReported}
	}
	if len(denied) > 0 {
		return Access{What: what, Status: No, Detail: "denied on " + firstFew(denied)}
	}
	return Access{What: what, Status: Yes, Detail: fmt.Sprintf("all %d selected topics", len(names))}
}

// groupsOp is topicsOp for groups.
func groupsOp(groups map[string][]kmsg.ACLOperation, what string, op kmsg.ACLOperation) Access {
	if len(groups) == 0 {
		return Access{What: what, Status: Unknown, Detail: "no selected groups on this cluster"}
	}
	var denied []string
	for g, ops := range groups {
		allowed, known := cluster.Allowed(ops, op)
		if !known {
			return Access{What: what, Status: Unknown, Detail: notReported}
		}
		if !allowed {
			denied = append(denied, g)
		}
	}
	if len(denied) > 0 {
		slices.Sort(denied)
		return Access{What: what, Status: No, Detail: "denied on " + firstFew(denied)}
	}
	return Access{What: what, Status: Yes, Detail: fmt.Sprintf("all %d selected groups", len(groups))}
}

func firstFew(names []string) string {
	const n = 5
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// sourceAccess is what a migration does on the source: read, never write.
func sourceAccess(info *cluster.Info, topics []string, groups map[string][]kmsg.ACLOperation) []Access {
	return []Access{
		topicsOp(info, topics, "describe selected topics", kmsg.ACLOperationDescribe),
		topicsOp(info, topics, "read selected topics", kmsg.ACLOperationRead),
		topicsOp(info, topics, "read selected topic configs", kmsg.ACLOperationDescribeConfigs),
		groupsOp(groups, "describe selected groups and their offsets", kmsg.ACLOperationDescribe),
	}
}

// targetAccess is what a migration does on the target: create topics,
// write records in transactions, commit group offsets.
func targetAccess(info *cluster.Info, create Access, existing []string, groups map[string][]kmsg.ACLOperation) []Access {
	// Cluster-level IdempotentWrite is only needed before Kafka 3.0 (topic
	// Write implies it since), and topic configs are set at creation or
	// per topic, so neither cluster-level answer blocks a migration.
	acc := []Access{
		create,
		optional(clusterOp(info, "idempotent write (cluster)", kmsg.ACLOperationIdempotentWrite)),
		optional(clusterOp(info, "alter configs (cluster)", kmsg.ACLOperationAlterConfigs)),
	}
	if len(existing) > 0 {
		acc = append(acc, topicsOp(info, existing, "write existing selected topics", kmsg.ACLOperationWrite))
	}
	acc = append(acc, groupsOp(groups, "commit offsets of selected groups", kmsg.ACLOperationRead))
	return acc
}

// evaluate turns denied access and missing features into problems and
// warnings.
func (r *Report) evaluate() {
	for _, s := range []*Side{r.Source, r.Target} {
		for _, a := range s.Access {
			switch a.Status {
			case No:
				if a.Optional {
					r.Warnings = append(r.Warnings, fmt.Sprintf("%s: the credentials may not %s (not required on Kafka 3.0 and later)", s.Role, a.What))
					continue
				}
				p := fmt.Sprintf("%s: the credentials may not %s", s.Role, a.What)
				if a.Detail != "" {
					p += " (" + a.Detail + ")"
				}
				r.Problems = append(r.Problems, p)
			case Unknown:
				if a.Detail == notReported {
					r.Warnings = append(r.Warnings, fmt.Sprintf("%s: cannot tell whether the credentials may %s: %s", s.Role, a.What, a.Detail))
				}
			}
		}
	}
	if len(r.Source.SelectedTopics) == 0 {
		r.Warnings = append(r.Warnings, "source: no topic matches the topic selection: check --topics or topics.include")
	}
	if !r.Target.Features.Transactions {
		r.Warnings = append(r.Warnings, "target: no transaction support: exactly-once mirroring is not possible; only at-least-once")
	}
	if !r.Target.Features.Idempotence {
		r.Problems = append(r.Problems, "target: no idempotent producer support (InitProducerID): kmigrate needs Kafka 0.11 or later on the target")
	}
	for _, s := range []*Side{r.Source, r.Target} {
		if len(s.Brokers) == 0 {
			r.Problems = append(r.Problems, s.Role+": the cluster reported no brokers")
		}
	}
}
