package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Applied is what Apply did to one target topic.
type Applied struct {
	Source, Target string
	// Action is what was done: Create, Resume or Reuse. It differs from
	// the plan's when another process created the topic first.
	Action Action
	// Partitions is the target topic's partition count afterwards;
	// partitions AddedFrom to Partitions-1 are new (all of them for a
	// created topic, none when AddedFrom == Partitions).
	Partitions, AddedFrom int32
	// ConfigsSet and ConfigsDeleted are the config changes made on an
	// existing topic (Reuse) to match the source.
	ConfigsSet     map[string]string
	ConfigsDeleted []string
	// Err is why the topic could not be made ready; it names the topic.
	Err error
}

// Apply makes the target topics of a plan ready for mirroring: it creates
// the Create topics with the source's partition count, the plan's
// replication factor and the filtered configs; adds partitions to Resume
// topics behind their source; and sets the configs of Reuse topics. It
// refuses a plan with conflicts (ErrConflicts) before writing anything.
//
// When a topic to create already exists (another run, or another tool,
// created it since Inspect), Apply inspects it again and goes on only if
// the rules allow Resume or Reuse; otherwise that topic fails with the
// conflict's reason.
//
// Apply returns once every changed topic's partitions all have leaders,
// so that producing to them does not race the cluster's metadata. The
// error joins the topics' errors; the results list every topic, failed or
// not, in plan order.
func Apply(ctx context.Context, tgt *kadm.Client, p *Plan) ([]Applied, error) {
	if c := p.Conflicts(); len(c) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConflicts, strings.Join(c, "; "))
	}
	results := make([]Applied, len(p.Topics))
	each(len(p.Topics), func(i int) {
		results[i] = applyTopic(ctx, tgt, p, p.Topics[i])
	})
	ready := map[string]int32{}
	for _, r := range results {
		if r.Err == nil && r.AddedFrom < r.Partitions {
			ready[r.Target] = r.Partitions
		}
	}
	waitErr := waitReady(ctx, tgt, ready)
	var errs []error
	for i := range results {
		r := &results[i]
		if r.Err == nil {
			if err := waitErr[r.Target]; err != nil {
				r.Err = fmt.Errorf("target topic %q: %w", r.Target, err)
			}
		}
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// applyTopic carries out one topic's action.
func applyTopic(ctx context.Context, tgt *kadm.Client, p *Plan, tp Topic) Applied {
	r := Applied{Source: tp.Source, Target: tp.Target, Action: tp.Action, Partitions: tp.Partitions, AddedFrom: tp.Partitions}
	var err error
	switch tp.Action {
	case Create:
		resp, cerr := tgt.CreateTopic(ctx, tp.Partitions, rf(p.ReplicationFactor), configPtrs(tp.Configs), tp.Target)
		switch {
		case cerr == nil:
			r.AddedFrom = 0
		case errors.Is(cerr, kerr.TopicAlreadyExists):
			if tp, err = reinspect(ctx, tgt, p, tp); err == nil {
				r.Action = tp.Action
				return finish(ctx, tgt, p, tp, r)
			}
		default:
			err = withMessage(cerr, resp.ErrMessage)
			err = fmt.Errorf("create: %w%s", err, configHint(err))
		}
	case Resume, Reuse:
		return finish(ctx, tgt, p, tp, r)
	default:
		err = fmt.Errorf("cannot apply action %q", tp.Action)
	}
	if err != nil {
		r.Err = fmt.Errorf("target topic %q: %w", tp.Target, err)
	}
	return r
}

// finish completes Resume and Reuse: partitions for the one, configs for
// the other.
func finish(ctx context.Context, tgt *kadm.Client, p *Plan, tp Topic, r Applied) Applied {
	var err error
	switch tp.Action {
	case Resume:
		if tp.PartitionsToAdd() > 0 {
			r.AddedFrom = tp.TargetPartitions
			err = setPartitions(ctx, tgt, tp.Target, tp.Partitions)
		}
	case Reuse:
		r.ConfigsSet, r.ConfigsDeleted, err = alignConfigs(ctx, tgt, tp.Target, tp.Configs, p.settings)
	}
	if err != nil {
		r.Err = fmt.Errorf("target topic %q: %w", tp.Target, err)
	}
	return r
}

// ErrAppeared is the error of a topic to create that someone else created
// since Inspect and that the plan's rules do not let this migration use.
// Another process of the same migration may be that someone: it claims
// the topic in the migration's state before it creates it, so planning
// again from a fresh read of the state resumes the topic instead.
var ErrAppeared = errors.New("it was created by someone else since the plan was made")

// reinspect decides again for a topic that appeared on the target after
// Inspect, with Inspect's rules.
func reinspect(ctx context.Context, tgt *kadm.Client, p *Plan, tp Topic) (Topic, error) {
	var td kadm.TopicDetail
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err := retry(wctx, func() error {
		m, err := tgt.Metadata(fresh(wctx), tp.Target)
		if err != nil {
			return err
		}
		td = m.Topics[tp.Target]
		return td.Err // UnknownTopicOrPartition until the metadata catches up
	})
	if err != nil {
		return tp, fmt.Errorf("%w, and cannot be described: %w", ErrAppeared, err)
	}
	owned := p.owned != nil && p.owned(tp.Target)
	var unowned []string
	if !owned {
		unowned = []string{tp.Target}
	}
	s, err := readTargets(ctx, tgt, []string{tp.Target}, unowned)
	if err != nil {
		return tp, err
	}
	tp.Action, tp.Reason = "", ""
	decide(&tp, td, s, p.settings, owned)
	if tp.Action == Conflict {
		return tp, fmt.Errorf("%w: %s", ErrAppeared, tp.Reason)
	}
	return tp, nil
}

// setPartitions raises a target topic's partition count to n. A topic that
// already has n (another process raised it) is fine.
func setPartitions(ctx context.Context, tgt *kadm.Client, topic string, n int32) error {
	resp, err := tgt.UpdatePartitions(ctx, int(n), topic)
	if err == nil {
		r, rerr := resp.On(topic, nil)
		err = rerr
		if err == nil && r.Err != nil {
			err = withMessage(r.Err, r.ErrMessage)
		}
	}
	if err == nil || !errors.Is(err, kerr.InvalidPartitions) {
		if err != nil {
			return fmt.Errorf("add partitions up to %d: %w", n, err)
		}
		return nil
	}
	m, merr := tgt.Metadata(fresh(ctx), topic)
	if merr == nil && int32(len(m.Topics[topic].Partitions)) == n {
		return nil
	}
	return fmt.Errorf("add partitions up to %d: %w", n, err)
}

// alignConfigs makes the configs kmigrate manages on a target topic equal
// want, and returns what it changed.
func alignConfigs(ctx context.Context, tgt *kadm.Client, topic string, want map[string]string, t config.Topics) (map[string]string, []string, error) {
	rcs, err := tgt.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("describe configs: %w", err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("describe configs: %w", err)
	}
	set, del := configDiff(want, configMap(&rc), t)
	if len(set) == 0 {
		set = nil
	}
	if err := alterConfigs(ctx, tgt, topic, set, del); err != nil {
		return nil, nil, err
	}
	return set, del, nil
}

// alterConfigs sets and deletes configs of a target topic in one
// IncrementalAlterConfigs request.
func alterConfigs(ctx context.Context, tgt *kadm.Client, topic string, set map[string]string, del []string) error {
	if len(set) == 0 && len(del) == 0 {
		return nil
	}
	var alters []kadm.AlterConfig
	for _, k := range slices.Sorted(maps.Keys(set)) {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(set[k])})
	}
	for _, k := range del {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	resp, err := tgt.AlterTopicConfigs(ctx, alters, topic)
	if err == nil {
		r, rerr := resp.On(topic, nil)
		err = rerr
		if err == nil && r.Err != nil {
			err = withMessage(r.Err, r.ErrMessage)
		}
	}
	if err != nil {
		return fmt.Errorf("alter configs: %w%s", err, configHint(err))
	}
	return nil
}

// readyTimeout bounds how long Apply and SyncPartitions wait for new
// partitions to get leaders.
const readyTimeout = 30 * time.Second

// waitReady waits until each topic has (at least) its partition count in
// the target's metadata, every partition with a leader. It returns an
// error per topic that did not get there.
func waitReady(ctx context.Context, tgt *kadm.Client, want map[string]int32) map[string]error {
	if len(want) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	names := slices.Sorted(maps.Keys(want))
	var last map[string]error
	_ = retry(ctx, func() error {
		last = map[string]error{}
		m, err := tgt.Metadata(fresh(ctx), names...)
		for _, name := range names {
			td := m.Topics[name]
			switch {
			case err != nil:
				last[name] = err
			case td.Err != nil:
				last[name] = td.Err
			case int32(len(td.Partitions)) < want[name]:
				last[name] = fmt.Errorf("metadata shows %d of %d partitions", len(td.Partitions), want[name])
			default:
				for _, pd := range td.Partitions {
					if pd.Leader < 0 || pd.Err != nil {
						last[name] = fmt.Errorf("partition %d has no leader yet", pd.Partition)
						break
					}
				}
			}
		}
		if len(last) > 0 {
			return errors.New("not ready")
		}
		return nil
	})
	for name, err := range last {
		last[name] = fmt.Errorf("not ready after waiting: %w", err)
	}
	return last
}

// retry calls fn until it succeeds or ctx ends, backing off from 20ms to
// 500ms, and returns fn's last error.
func retry(ctx context.Context, fn func() error) error {
	backoff := 20 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}
