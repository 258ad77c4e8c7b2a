package main_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupRollbackPythonConsumer: after the migration, the application
// reads further on the target and stops; producers write natively to the
// target; groups rollback (after a dry run that writes nothing) moves the
// group back, reporting the native records, and the application resumes
// on the source exactly after the last copy it read.
func TestGroupRollbackPythonConsumer(t *testing.T) {
	f := newGroupFixture(t, pythonConsumer)
	f.consume(t, true, 120)
	onTarget := committedOffsets(t, f.pair.Target, f.group)
	f.checkPositions(t, onTarget, true)

	// Producers that switched write to the target, after the group's
	// position, in a partition the group has an offset for.
	var nativeTP tp
	for _, k := range slices.SortedFunc(maps.Keys(onTarget), compareTP) {
		if k.topic == topicWide {
			nativeTP = k
			break
		}
	}
	if nativeTP.topic == "" {
		t.Fatalf("the group has no offset on the target for %s: %v", topicWide, onTarget)
	}
	var natives []*kgo.Record
	for i := range 3 {
		natives = append(natives, &kgo.Record{Topic: nativeTP.topic, Partition: nativeTP.partition,
			Key: fmt.Appendf(nil, "native-%d", i), Value: fmt.Appendf(nil, "written on the target %d", i)})
	}
	f.pair.Target.Produce(t, natives...)
	native := map[tp]int64{nativeTP: 3}
	wantWarning := fmt.Sprintf("%s: 3 records after the group's position (offset %d) were written natively on the target: the source does not have them, so the group will not see them after the rollback",
		nativeTP, onTarget[nativeTP])

	want := f.expectRollback(t, onTarget, f.migrated, native)
	changed, kinds := 0, map[string]int{}
	for _, p := range want {
		if p.Changed {
			changed++
		}
		kinds[p.Kind]++
		t.Logf("rolling back %s", p)
	}
	// Target positions on a copy, on the commit marker between the two
	// mirrored transactions, and after the last copy.
	for _, k := range []string{"exact", "next-copied", "end"} {
		if kinds[k] == 0 {
			t.Errorf("no %s translation back among %v: the target phase stopped where the test does not exercise that case", k, kinds)
		}
	}
	for _, dry := range []bool{true, false} {
		args := groupArgs(f.pair, "rollback", "--group", f.group)
		what := "groups rollback"
		if dry {
			args, what = append(args, "--dry-run"), "groups rollback --dry-run"
		}
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", what, code, out, errOut)
		}
		g := parseReport(t, out).single(t, "target-to-source", dry, f.group)
		checkPartitions(t, what, g.Partitions, want)
		if g.Committed != changed || !slices.Equal(g.Warnings, []string{wantWarning}) || len(g.Unmirrored) > 0 {
			t.Errorf("%s: committed %d partitions, warnings %q, unmirrored %v; want %d, [%q], none", what, g.Committed, g.Warnings, g.Unmirrored, changed, wantWarning)
		}
		onSource := committedOffsets(t, f.pair.Source, f.group)
		wantSource := maps.Clone(f.migrated)
		if !dry {
			for _, p := range want {
				wantSource[tp{p.ToTopic, p.Partition}] = p.To
			}
		}
		if !maps.Equal(onSource, wantSource) {
			t.Fatalf("the group's source offsets after %s: %v, want %v", what, onSource, wantSource)
		}
	}

	// The application moves back to the source and reads the rest: each
	// partition resumes with the source record after the last copy it
	// read on the target, and it never sees the native records.
	f.consume(t, false, 0)
	f.finish(t)
	f.checkPositions(t, committedOffsets(t, f.pair.Source, f.group), false)
}
