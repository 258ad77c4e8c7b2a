package topics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Action is what a migration does with a target topic.
type Action string

// The actions.
const (
	// Create creates the target topic, which does not exist.
	Create Action = "create"
	// Resume continues an earlier run of this migration into the target
	// topic it made, adding partitions if the source has gained some.
	Resume Action = "resume"
	// Reuse takes over an existing empty target topic with the source's
	// partition count (topics.reuse_empty), setting its configs.
	Reuse Action = "reuse"
	// Conflict means the migration cannot use the target topic; Topic's
	// Reason says why and what to do.
	Conflict Action = "conflict"
)

// Mapping names a mirrored topic on both clusters.
type Mapping struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// Topic is the plan for one selected source topic.
type Topic struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// Pattern is the include pattern that selected the topic ("" when
	// everything is selected).
	Pattern string `json:"pattern,omitempty"`
	// Partitions is the source topic's partition count.
	Partitions int32 `json:"partitions"`
	// TargetExists says whether the target topic exists; TargetPartitions
	// is then its partition count, and TargetRecords the sum over its
	// partitions of end minus start offset (at most the records it holds:
	// fewer after compaction; 0 for Resume, which does not look).
	TargetExists     bool  `json:"target_exists"`
	TargetPartitions int32 `json:"target_partitions,omitempty"`
	TargetRecords    int64 `json:"target_records,omitempty"`
	// Configs are the configs the target topic gets; Dropped the source
	// configs it does not get, with reasons.
	Configs map[string]string `json:"configs"`
	Dropped []Dropped         `json:"dropped,omitempty"`
	// Warnings are problems that do not stop the migration but change
	// what it produces (timestamps, rejected records).
	Warnings []string `json:"warnings,omitempty"`
	Action   Action   `json:"action"`
	// Reason explains a Conflict; it is empty otherwise.
	Reason string `json:"reason,omitempty"`
}

// PartitionsToAdd is the number of partitions Apply adds to a Resume
// topic.
func (t Topic) PartitionsToAdd() int32 {
	if t.Action != Resume || t.TargetPartitions >= t.Partitions {
		return 0
	}
	return t.Partitions - t.TargetPartitions
}

// Plan is what Inspect found: every selected source topic with its target
// action, and every excluded one with the reason.
type Plan struct {
	// Topics are the selected source topics, sorted by source name.
	Topics []Topic `json:"topics"`
	// Excluded are the other source topics, sorted by name.
	Excluded []Excluded `json:"excluded"`
	// ReplicationFactor is the replication factor Apply creates topics
	// with; 0 means the target cluster's default.
	ReplicationFactor int16 `json:"replication_factor,omitempty"`

	settings config.Topics
	owned    func(target string) bool
}

// Conflicts returns one message per topic the migration cannot use, or
// nil. A caller refuses to write anything while there are any.
func (p *Plan) Conflicts() []string {
	var msgs []string
	for _, t := range p.Topics {
		if t.Action == Conflict {
			msgs = append(msgs, fmt.Sprintf("topic %q -> %q: %s", t.Source, t.Target, t.Reason))
		}
	}
	return msgs
}

// Mappings returns the source and target names of the topics to mirror:
// every topic without a conflict.
func (p *Plan) Mappings() []Mapping {
	var ms []Mapping
	for _, t := range p.Topics {
		if t.Action != Conflict {
			ms = append(ms, Mapping{t.Source, t.Target})
		}
	}
	return ms
}

// ErrConflicts is returned, wrapped, by Apply for a plan with conflicts.
var ErrConflicts = errors.New("the plan has conflicts")

// Inspect plans the migration of the topics t selects on src to tgt,
// reading both clusters and changing neither. owned reports whether an
// existing target topic is this migration's own mirror (the mirror's state
// knows); nil means none is.
//
// For each selected source topic it decides the target action:
//
//   - Create when the target topic does not exist and the target would
//     accept it (a validate-only CreateTopics with the same partitions,
//     replication factor and configs, so that a refused config, a too
//     large replication factor or a missing permission shows now);
//   - Resume when it exists and is owned, with at most the source's
//     partitions;
//   - Reuse when it exists, is not owned, is empty (every partition's log
//     start offset equals its end offset: no record can be read, though
//     some may have been written and deleted), has the source's partition
//     count, and t.ReuseEmpty allows it;
//   - Conflict otherwise, and also when two source topics map to one
//     target name, a target name is not legal, or it would collide with
//     another topic because Kafka treats '.' and '_' alike in names.
//
// Errors are for failed requests; what concerns one topic is in its plan.
func Inspect(ctx context.Context, src, tgt *kadm.Client, t config.Topics, owned func(target string) bool) (*Plan, error) {
	if owned == nil {
		owned = func(string) bool { return false }
	}
	srcMeta, err := src.Metadata(fresh(ctx))
	if err != nil {
		return nil, fmt.Errorf("list source topics: %w", err)
	}
	cands := make([]Candidate, 0, len(srcMeta.Topics))
	for _, td := range srcMeta.Topics {
		cands = append(cands, Candidate{td.Topic, td.IsInternal})
	}
	selected, excluded := Select(cands, t.Selection)
	p := &Plan{Excluded: excluded, ReplicationFactor: t.ReplicationFactor, settings: t, owned: owned}
	if len(selected) == 0 {
		return p, nil
	}

	names := make([]string, len(selected))
	for i, s := range selected {
		names[i] = s.Name
	}
	srcConfigs, err := src.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("describe source topic configs: %w", err)
	}
	tgtMeta, err := tgt.Metadata(fresh(ctx))
	if err != nil {
		return nil, fmt.Errorf("list target topics: %w", err)
	}

	byTarget := map[string][]string{}
	for _, s := range selected {
		td := srcMeta.Topics[s.Name]
		tp := Topic{Source: s.Name, Target: t.TargetName(s.Name), Pattern: s.Pattern, Partitions: int32(len(td.Partitions))}
		byTarget[tp.Target] = append(byTarget[tp.Target], tp.Source)
		rc, err := srcConfigs.On(s.Name, nil)
		switch {
		case td.Err != nil:
			tp.conflict("the source topic's metadata cannot be read: %v", td.Err)
		case err == nil && rc.Err != nil:
			err = rc.Err
			fallthrough
		case err != nil:
			tp.conflict("the source topic's configs cannot be read: %v", err)
		default:
			f := FilterConfigs(rc, t)
			tp.Configs, tp.Dropped, tp.Warnings = f.Configs, f.Dropped, f.Warnings
		}
		p.Topics = append(p.Topics, tp)
	}
	checkNames(p.Topics, byTarget, tgtMeta.Topics)

	var existing, unowned []string
	for i := range p.Topics {
		tp := &p.Topics[i]
		if td, ok := tgtMeta.Topics[tp.Target]; ok && tp.Action == "" {
			existing = append(existing, tp.Target)
			if !owned(tp.Target) {
				unowned = append(unowned, tp.Target)
			}
			if td.Err != nil {
				tp.conflict("the target topic's metadata cannot be read: %v", td.Err)
			}
		}
	}
	state, err := readTargets(ctx, tgt, existing, unowned)
	if err != nil {
		return nil, err
	}
	var toValidate []*Topic
	for i := range p.Topics {
		tp := &p.Topics[i]
		if tp.Action != "" {
			continue
		}
		td, ok := tgtMeta.Topics[tp.Target]
		if !ok {
			tp.Action = Create
			toValidate = append(toValidate, tp)
			continue
		}
		decide(tp, td, state, t, owned(tp.Target))
	}
	if err := validateCreates(ctx, tgt, toValidate, t); err != nil {
		return nil, err
	}
	return p, nil
}

func (tp *Topic) conflict(format string, args ...any) {
	tp.Action, tp.Reason = Conflict, fmt.Sprintf(format, args...)
}

// checkNames marks the topics whose target name cannot be used: not legal,
// claimed by several source topics, or colliding after Kafka's '.'/'_'
// folding with an existing topic or another topic to be created. (One
// source cluster cannot hold two such names if it is Apache Kafka, but
// other brokers allow them.)
func checkNames(tps []Topic, byTarget map[string][]string, existing kadm.TopicDetails) {
	folded := map[string]string{}
	for name := range existing {
		folded[foldName(name)] = name
	}
	planned := map[string][]string{} // folded -> target names to create
	for i := range tps {
		tp := &tps[i]
		if tp.Action != "" {
			continue
		}
		if err := config.CheckTopicName(tp.Target); err != nil {
			tp.conflict("the target name is not legal: %v: change topics.prefix or topics.rename", err)
			continue
		}
		if srcs := byTarget[tp.Target]; len(srcs) > 1 {
			tp.conflict("source topics %s all map to this target name: change topics.rename, or exclude all but one", quoteList(srcs))
			continue
		}
		if _, ok := existing[tp.Target]; ok {
			continue
		}
		f := foldName(tp.Target)
		if other, ok := folded[f]; ok {
			tp.conflict("the target name collides with the topic %q: Kafka refuses names that differ only in '.' and '_'; change topics.prefix or topics.rename", other)
			continue
		}
		planned[f] = append(planned[f], tp.Target)
	}
	for i := range tps {
		tp := &tps[i]
		if tp.Action != "" {
			continue
		}
		if names := planned[foldName(tp.Target)]; len(names) > 1 {
			tp.conflict("the target names %s differ only in '.' and '_', which Kafka refuses: change topics.rename, or exclude all but one", quoteList(names))
		}
	}
}

func foldName(name string) string { return strings.ReplaceAll(name, ".", "_") }

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// targets is what Inspect reads about existing target topics.
type targets struct {
	configs kadm.ResourceConfigs
	starts  kadm.ListedOffsets
	ends    kadm.ListedOffsets
}

// readTargets describes the configs of the existing target topics and
// lists the offsets of the unowned ones, which decide emptiness.
func readTargets(ctx context.Context, tgt *kadm.Client, existing, unowned []string) (targets, error) {
	var s targets
	if len(existing) == 0 {
		return s, nil
	}
	var err error
	if s.configs, err = tgt.DescribeTopicConfigs(ctx, existing...); err != nil {
		return s, fmt.Errorf("describe target topic configs: %w", err)
	}
	if len(unowned) == 0 {
		return s, nil
	}
	if s.starts, err = tgt.ListStartOffsets(ctx, unowned...); err != nil {
		return s, fmt.Errorf("list target start offsets: %w", err)
	}
	if s.ends, err = tgt.ListEndOffsets(ctx, unowned...); err != nil {
		return s, fmt.Errorf("list target end offsets: %w", err)
	}
	return s, nil
}

// decide sets the action for a source topic whose target topic exists.
func decide(tp *Topic, td kadm.TopicDetail, s targets, t config.Topics, owned bool) {
	tp.TargetExists = true
	tp.TargetPartitions = int32(len(td.Partitions))
	var have map[string]kadm.Config
	if rc, err := s.configs.On(tp.Target, nil); err == nil && rc.Err == nil {
		have = configMap(&rc)
	}
	if n := int16(td.Partitions.NumReplicas()); t.ReplicationFactor > 0 && n > 0 && n != t.ReplicationFactor {
		tp.Warnings = append(tp.Warnings, fmt.Sprintf("the existing target topic has replication factor %d, not topics.replication_factor %d: kmigrate does not change it", n, t.ReplicationFactor))
	}
	if owned {
		if tp.TargetPartitions > tp.Partitions {
			tp.conflict("this migration's target topic has %d partitions but the source has %d: was the source topic deleted and re-created? Records must keep their partition, so delete the target topic and migrate it again", tp.TargetPartitions, tp.Partitions)
			return
		}
		tp.Action = Resume
		tp.Warnings = append(tp.Warnings, targetWarnings(tp.Configs, have, t)...)
		return
	}
	records, err := countRecords(tp.Target, s)
	if err != nil {
		tp.conflict("the target topic's offsets cannot be read: %v", err)
		return
	}
	tp.TargetRecords = records
	switch {
	case records > 0:
		tp.conflict("the target topic already exists with up to %d records and is not this migration's mirror: delete it, or choose other target names with topics.prefix (--topic-prefix) or topics.rename", records)
	case tp.TargetPartitions != tp.Partitions:
		tp.conflict("the target topic exists and is empty, but has %d partitions where the source has %d: records must keep their partition; delete it, or choose other target names with topics.prefix (--topic-prefix) or topics.rename", tp.TargetPartitions, tp.Partitions)
	case !t.ReuseEmpty:
		tp.conflict("the target topic exists and is empty but topics.reuse_empty is off: set it (or pass --allow-reuse) to reuse the topic, delete the topic, or choose other target names with topics.prefix (--topic-prefix) or topics.rename")
	default:
		tp.Action = Reuse
		tp.Warnings = append(tp.Warnings, targetWarnings(tp.Configs, have, t)...)
	}
}

// countRecords sums end minus start offsets over the target topic's
// partitions.
func countRecords(topic string, s targets) (int64, error) {
	var n int64
	for p, end := range s.ends[topic] {
		if end.Err != nil {
			return 0, end.Err
		}
		start, ok := s.starts.Lookup(topic, p)
		if !ok {
			return 0, fmt.Errorf("no start offset for partition %d", p)
		}
		if start.Err != nil {
			return 0, start.Err
		}
		n += end.Offset - start.Offset
	}
	if _, ok := s.ends[topic]; !ok {
		return 0, kerr.UnknownTopicOrPartition
	}
	return n, nil
}

// maxRequests bounds the requests Inspect and Apply have in flight at
// once, one per topic.
const maxRequests = 8

// validateCreates asks the target, without creating anything, whether it
// would create each topic as planned, and turns a refusal into a conflict.
// A request that fails outright is an error.
func validateCreates(ctx context.Context, tgt *kadm.Client, tps []*Topic, t config.Topics) error {
	var mu sync.Mutex
	var errs []error
	each(len(tps), func(i int) {
		tp := tps[i]
		resp, err := tgt.ValidateCreateTopics(ctx, tp.Partitions, rf(t.ReplicationFactor), configPtrs(tp.Configs), tp.Target)
		if err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("validate creating target topic %q: %w", tp.Target, err))
			mu.Unlock()
			return
		}
		r, ok := resp[tp.Target]
		switch {
		case !ok:
			tp.conflict("the target did not answer whether it would create the topic")
		case r.Err != nil:
			err = withMessage(r.Err, r.ErrMessage)
			tp.conflict("the target would refuse to create the topic: %v%s", err, configHint(err))
		default:
			tp.Warnings = append(tp.Warnings, targetWarnings(tp.Configs, r.Configs, t)...)
			tp.checkMinISR(r.ReplicationFactor)
		}
	})
	return errors.Join(errs...)
}

// checkMinISR refuses a min.insync.replicas above the replication factor:
// every acks=all write, the mirror's included, would fail.
func (tp *Topic) checkMinISR(replicas int16) {
	v, ok := tp.Configs["min.insync.replicas"]
	if !ok || replicas <= 0 {
		return
	}
	if isr, err := strconv.Atoi(v); err != nil || isr <= int(replicas) {
		return
	}
	tp.conflict("min.insync.replicas=%s is copied but the target topic would have %d replicas: every write would fail; set topics.replication_factor to at least %s, or exclude min.insync.replicas with topics.configs.exclude", v, replicas, v)
}

// each calls fn(0) to fn(n-1), at most maxRequests at a time.
func each(n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxRequests)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// rf is the replication factor of a CreateTopics request: -1 asks for the
// cluster's default.
func rf(n int16) int16 {
	if n <= 0 {
		return -1
	}
	return n
}

func configPtrs(m map[string]string) map[string]*string {
	ps := make(map[string]*string, len(m))
	for k, v := range m {
		ps[k] = &v
	}
	return ps
}

// withMessage adds the broker's explanation to an error code.
func withMessage(err error, msg string) error {
	if msg == "" {
		return err
	}
	return fmt.Errorf("%w (%s)", err, msg)
}

// configHint suggests the way out of a refused config.
func configHint(err error) string {
	if errors.Is(err, kerr.InvalidConfig) || errors.Is(err, kerr.PolicyViolation) {
		return "; if the target refuses a copied config, exclude it with topics.configs.exclude"
	}
	return ""
}
