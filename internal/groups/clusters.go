package groups

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/state"
)

// clusters is what Migrate, Rollback and the Syncer work with inside
// this package: the open migration's clients and state, with how often
// waits re-check.
type clusters struct {
	Source, Target *kgo.Client
	// SourceID is the source cluster's id, as the tracing headers name it.
	SourceID string
	// State reads the migration's current state from the target (a fresh
	// read on every call: waiting for the mirror calls it again).
	State func(ctx context.Context) (*state.Snapshot, error)
	// StateTopic is the migration's state topic on the target: Migrate,
	// Rollback and the Syncer record there which groups switched
	// (state.Switched) and an event per move.
	StateTopic string
	Logger     *slog.Logger
	Poll       time.Duration
}

// DefaultPoll is how often Migrate re-checks while it waits for a group
// to stop or for the mirror to catch up.
const DefaultPoll = time.Second

func newClusters(h *migration.Handle, poll time.Duration) *clusters {
	if poll <= 0 {
		poll = DefaultPoll
	}
	return &clusters{
		Source: h.Source(), Target: h.Target(), SourceID: h.SourceID(),
		State: h.LoadState, StateTopic: h.StateTopic(), Logger: h.Logger(), Poll: poll,
	}
}

func (c *clusters) srcAdm() *kadm.Client { return kadm.NewClient(c.Source) }
func (c *clusters) tgtAdm() *kadm.Client { return kadm.NewClient(c.Target) }

// Errors of Migrate, Rollback and the Syncer. Test with errors.Is; the
// wrapping error says which group and what to do.
var (
	// ErrActive: the group has consumers on a cluster where it must
	// have none.
	ErrActive = errors.New("group is active")
	// ErrNoOffsets: the group has no committed offsets to move.
	ErrNoOffsets = errors.New("no committed offsets")
	// ErrNotMirrored: the mirror has not copied up to a committed
	// offset within the wait.
	ErrNotMirrored = errors.New("not mirrored yet")
	// ErrRewind: committing the translation would move the group's
	// target offsets back past where it has already consumed.
	ErrRewind = errors.New("would move the group backwards")
	// ErrMismatch: the target record at a translated offset is not the
	// copy the offset map says it is.
	ErrMismatch = errors.New("target does not match the offset map")
	// ErrMoved: the group's source offsets changed while it was being
	// migrated: its application is running again.
	ErrMoved = errors.New("group moved on the source during the migration")
)

// inactive reports whether a side has no consumers: no members and not in
// a state in which members are joining.
func (s Side) inactive() bool {
	return s.Err == "" && s.Members == 0 && !slices.Contains(activeStates, s.State)
}

// describeGroup returns the group's state on one cluster.
func describeGroup(ctx context.Context, adm *kadm.Client, group string) (Side, error) {
	m, err := describe(ctx, adm, []string{group})
	if err != nil {
		return Side{}, err
	}
	s := m[group]
	if s.Err != "" {
		return s, fmt.Errorf("describe group %q: %s", group, s.Err)
	}
	return s, nil
}

// committed is a group's committed offset in one partition.
type committed struct {
	TP       state.TopicPartition
	At       int64
	Metadata string
}

// fetchCommitted returns the group's committed offsets on one cluster,
// sorted by topic and partition; partitions without an offset (-1) are
// left out. A group the cluster does not know has none.
func fetchCommitted(ctx context.Context, adm *kadm.Client, group string) ([]committed, error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("fetch committed offsets of group %q: %w", group, err)
	}
	var out []committed
	var errs []error
	resp.Each(func(o kadm.OffsetResponse) {
		switch {
		case o.Err != nil:
			errs = append(errs, fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err))
		case o.At >= 0:
			out = append(out, committed{TP: state.TopicPartition{Topic: o.Topic, Partition: o.Partition}, At: o.At, Metadata: o.Metadata})
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("fetch committed offsets of group %q: %w", group, errors.Join(errs...))
	}
	slices.SortFunc(out, func(a, b committed) int { return compareTP(a.TP, b.TP) })
	return out, nil
}

// commitOffsets commits offsets for group on one cluster as an admin
// (generation -1, no member: only possible while the group is empty) and
// returns the first per-partition error.
func commitOffsets(ctx context.Context, adm *kadm.Client, group string, os kadm.Offsets) error {
	resp, err := adm.CommitOffsets(ctx, group, os)
	if err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", group, err)
	}
	if err := resp.Error(); err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", group, err)
	}
	return nil
}

// waitInactive describes the group on adm until it has no consumers or
// wait has passed (wait 0 checks once). It returns the last state and
// ErrActive, wrapped with advice, if the group stayed active.
func (c *clusters) waitInactive(ctx context.Context, adm *kadm.Client, group, cluster string, wait time.Duration) (Side, error) {
	deadline := time.Now().Add(wait)
	for {
		s, err := describeGroup(ctx, adm, group)
		if err != nil {
			return s, fmt.Errorf("%s: %w", cluster, err)
		}
		if s.inactive() {
			return s, nil
		}
		if wait <= 0 || time.Now().After(deadline) {
			what := fmt.Sprintf("%s with %s", s.State, members(s.Members))
			if wait > 0 {
				return s, fmt.Errorf("group %q is still %s on the %s after waiting %v: %w", group, what, cluster, wait, ErrActive)
			}
			return s, fmt.Errorf("group %q is %s on the %s: %w", group, what, cluster, ErrActive)
		}
		c.Logger.Info("waiting for the group to stop", "group", group, "cluster", cluster, "state", s.State, "members", s.Members)
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(c.Poll):
		}
	}
}

func compareTP(a, b state.TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// record writes that group switched (how: "migrated", "detected",
// "rolled-back") and an event, when the state topic is known. A failure is
// logged, not returned: the offsets are committed, which is what matters.
func (c *clusters) record(ctx context.Context, group, how, detail string) {
	if c.StateTopic == "" {
		return
	}
	now := time.Now().UTC()
	sw, err1 := state.SwitchedRecord(c.StateTopic, state.Switched{Group: group, Time: now, How: how})
	ev, err2 := state.EventRecord(c.StateTopic, state.Event{Time: now, Action: "group " + how, Detail: group + ": " + detail})
	err := errors.Join(err1, err2)
	if err == nil {
		err = state.Write(ctx, c.Target, sw, ev)
	}
	if err != nil {
		c.Logger.Warn("could not record the group's switch in the migration state", "group", group, "err", err)
	}
}
