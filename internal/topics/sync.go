package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/config"
)

// PartitionsAdded says that a target topic grew from From to To
// partitions: the mirror should start copying partitions From to To-1.
type PartitionsAdded struct {
	Source, Target string
	From, To       int32
}

// ConfigsChanged lists the config changes made on a target topic.
type ConfigsChanged struct {
	Source, Target string
	// Set holds the configs set, with their new values; Deleted the
	// configs removed (the target's default applies again).
	Set     map[string]string
	Deleted []string
}

// SyncPartitions gives each target topic as many partitions as its source
// topic has now, and returns the topics that grew, sorted by source name.
// A source topic that is gone, or has fewer partitions than its target
// (deleted and re-created), is an error for that topic: records must keep
// their partition, so kmigrate cannot carry on with it. The error joins the
// topics' errors; what succeeded is returned either way.
func SyncPartitions(ctx context.Context, src, tgt *kadm.Client, ms []Mapping) ([]PartitionsAdded, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	sources, targets := names(ms)
	srcMeta, err := src.Metadata(fresh(ctx), sources...)
	if err != nil {
		return nil, fmt.Errorf("describe source topics: %w", err)
	}
	tgtMeta, err := tgt.Metadata(fresh(ctx), targets...)
	if err != nil {
		return nil, fmt.Errorf("describe target topics: %w", err)
	}
	var grow []PartitionsAdded
	var errs []error
	for _, m := range ms {
		s, t := srcMeta.Topics[m.Source], tgtMeta.Topics[m.Target]
		ns, nt := int32(len(s.Partitions)), int32(len(t.Partitions))
		switch {
		case s.Err != nil:
			errs = append(errs, fmt.Errorf("source topic %q: %w", m.Source, s.Err))
		case t.Err != nil:
			errs = append(errs, fmt.Errorf("target topic %q: %w", m.Target, t.Err))
		case ns < nt:
			errs = append(errs, fmt.Errorf("target topic %q has %d partitions but source topic %q has %d: was the source topic deleted and re-created?", m.Target, nt, m.Source, ns))
		case ns > nt:
			grow = append(grow, PartitionsAdded{m.Source, m.Target, nt, ns})
		}
	}
	done := make([]error, len(grow))
	each(len(grow), func(i int) {
		done[i] = setPartitions(ctx, tgt, grow[i].Target, grow[i].To)
	})
	want := map[string]int32{}
	var added []PartitionsAdded
	for i, g := range grow {
		if done[i] != nil {
			errs = append(errs, fmt.Errorf("target topic %q: %w", g.Target, done[i]))
			continue
		}
		want[g.Target] = g.To
		added = append(added, g)
	}
	for target, err := range waitReady(ctx, tgt, want) {
		errs = append(errs, fmt.Errorf("target topic %q: %w", target, err))
	}
	slices.SortFunc(added, func(a, b PartitionsAdded) int { return strings.Compare(a.Source, b.Source) })
	return added, joinSorted(errs)
}

// SyncConfigs makes each target topic's managed configs equal the filtered
// configs of its source topic (FilterConfigs): it sets those added or
// changed on the source and deletes those removed from it. Configs that
// kmigrate does not manage (not portable, not in topics.configs.include, or
// in topics.configs.exclude) are never touched, on either side. It returns
// the topics changed, sorted by source name; the error joins the topics'
// errors.
func SyncConfigs(ctx context.Context, src, tgt *kadm.Client, t config.Topics, ms []Mapping) ([]ConfigsChanged, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	sources, targets := names(ms)
	srcConfigs, err := src.DescribeTopicConfigs(ctx, sources...)
	if err != nil {
		return nil, fmt.Errorf("describe source topic configs: %w", err)
	}
	tgtConfigs, err := tgt.DescribeTopicConfigs(ctx, targets...)
	if err != nil {
		return nil, fmt.Errorf("describe target topic configs: %w", err)
	}
	type change struct {
		ConfigsChanged
		err error
	}
	changes := make([]change, len(ms))
	each(len(ms), func(i int) {
		m := ms[i]
		c := &changes[i]
		c.Source, c.Target = m.Source, m.Target
		s, err := srcConfigs.On(m.Source, nil)
		if err == nil {
			err = s.Err
		}
		if err != nil {
			c.err = fmt.Errorf("source topic %q: describe configs: %w", m.Source, err)
			return
		}
		g, err := tgtConfigs.On(m.Target, nil)
		if err == nil {
			err = g.Err
		}
		if err != nil {
			c.err = fmt.Errorf("target topic %q: describe configs: %w", m.Target, err)
			return
		}
		set, del := configDiff(FilterConfigs(s, t).Configs, configMap(&g), t)
		if err := alterConfigs(ctx, tgt, m.Target, set, del); err != nil {
			c.err = fmt.Errorf("target topic %q: %w", m.Target, err)
			return
		}
		if len(set) > 0 {
			c.Set = set
		}
		c.Deleted = del
	})
	var out []ConfigsChanged
	var errs []error
	for _, c := range changes {
		switch {
		case c.err != nil:
			errs = append(errs, c.err)
		case len(c.Set) > 0 || len(c.Deleted) > 0:
			out = append(out, c.ConfigsChanged)
		}
	}
	slices.SortFunc(out, func(a, b ConfigsChanged) int { return strings.Compare(a.Source, b.Source) })
	return out, joinSorted(errs)
}

func names(ms []Mapping) (sources, targets []string) {
	for _, m := range ms {
		sources = append(sources, m.Source)
		targets = append(targets, m.Target)
	}
	return sources, targets
}

// joinSorted joins errors in the order of their messages, so that the
// result does not depend on map order or scheduling.
func joinSorted(errs []error) error {
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// fresh makes kadm bypass the client's metadata cache (up to 5s old),
// which would hide partitions and topics created moments ago; asking for
// authorized operations is kadm's way to request metadata directly.
func fresh(ctx context.Context) context.Context {
	return kadm.WithAuthorizedOps(ctx)
}
