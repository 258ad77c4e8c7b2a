package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/kmigrate/kmigrate/internal/state"
	"github.com/kmigrate/kmigrate/internal/units"
)

// A Mirror with Options.Units above 1 copies one work unit of the
// migration (package units): the partitions the unit rule gives it, under
// the unit's transactional id (state.UnitTransactionalID), with its own
// heartbeat key. Its checkpoints and offset map segments use the same
// state keys as a whole-migration mirror (they are per partition, and a
// partition belongs to one unit), so state written before units resumes
// as is once the single transactional id has been fenced (Settle).

// unitMode reports whether the Mirror copies one unit of several.
func (m *Mirror) unitMode() bool { return m.opts.Units > 1 }

// owns reports whether tp is the Mirror's to copy.
func (m *Mirror) owns(tp state.TopicPartition) bool {
	return !m.unitMode() || units.Of(tp.Topic, tp.Partition, m.opts.Units) == m.opts.Unit
}

// writesMeta reports whether the Mirror's sessions write the migration's
// meta: every unit reads and checks it, but only unit 0 writes it, so that
// units never race each other's merges.
func (m *Mirror) writesMeta() bool { return !m.unitMode() || m.opts.Unit == 0 }

// checkUnits refuses to copy when the state's unit count is not the
// Mirror's: two owners could then copy one partition. Settle writes the
// count before any unit runs.
func (m *Mirror) checkUnits(meta *state.Meta) error {
	have := 1
	if meta != nil {
		have = max(meta.Units, 1)
	} else if m.unitMode() {
		return fmt.Errorf("%w: the migration state has no meta, but unit %d of %d was started: settle the unit count first", errConfig, m.opts.Unit, m.opts.Units)
	}
	if want := max(m.opts.Units, 1); have != want {
		return fmt.Errorf("%w: the migration state records %d work units, this mirror runs as one of %d", errConfig, have, want)
	}
	return nil
}

// idle waits for deadline or ctx, and reports whether ctx ended.
func (s *session) idle(ctx context.Context, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return true
	case <-t.C:
		return false
	}
}
