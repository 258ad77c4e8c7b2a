package main

import (
	"context"
	"encoding/json"
	"github.com/kmigrate/kmigrate/internal/groups"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestHarnessSmall runs the whole harness logic at a tiny size on
// in-process clusters (kfake with a data directory, as the sandbox runs
// them): seed, copy with the mirror engine, commit the group, measure both
// methods in process, check and report. It keeps the harness from rotting
// between full runs.
func TestHarnessSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1), kafkatest.DataDir(t.TempDir()))
	c := Clusters{Source: pair.Source.Config, Target: pair.Target.Config, SourceID: pair.Source.ID, TargetID: pair.Target.ID}
	o := options{shape: Shape{Partitions: 4, Records: 200, Size: 16, Seed: 1}, concurrency: 2, sequential: true}

	rep := &Report{Started: time.Now(), Shape: o.shape, Brokers: 1}
	in, err := prepare(ctx, c, o.shape, &rep.Setup)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Setup.CopiedRecords != 800 || rep.Setup.StateRecords == 0 || rep.Setup.StateMarkers == 0 {
		t.Fatalf("setup %+v: want 800 copied records and a transactional state topic", rep.Setup)
	}
	if rep.Setup.CommittedAt0 != 1 || rep.Setup.CommittedAtEnd != 1 {
		t.Fatalf("setup %+v: want one partition committed at 0 and one at the end", rep.Setup)
	}
	// The children's inputs survive a JSON round trip.
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back Inputs
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}

	measureAll(ctx, inProcess(&back), &back, o, rep)
	if len(rep.Failures) > 0 {
		t.Fatalf("failures: %v", rep.Failures)
	}
	if len(rep.Methods) != 4 {
		t.Fatalf("%d methods measured, want map, search, sequential search and migrate", len(rep.Methods))
	}
	for _, m := range rep.Methods {
		if !strings.HasPrefix(m.Check, "ok") || m.Seconds <= 0 {
			t.Errorf("%s: check %q, %.3fs", m.Label, m.Check, m.Seconds)
		}
		if strings.HasPrefix(m.Name, "search") && (m.Fetches == nil || m.Fetches.Max == 0 || m.Requests["Fetch"] == 0) {
			t.Errorf("%s: no fetches counted: %+v", m.Label, m.Fetches)
		}
	}
	if m := rep.method("map"); m.Requests["Fetch"] == 0 || m.StateLoadSeconds <= 0 {
		t.Errorf("map: the state load was not measured: %+v", m.Measured)
	}
	if !strings.HasPrefix(rep.Verify, "ok: 3 partitions") {
		t.Errorf("verify: %s", rep.Verify)
	}

	var out strings.Builder
	rep.printTable(&out)
	if !strings.Contains(out.String(), "(b) search, 2 at once") {
		t.Errorf("table:\n%s", out.String())
	}
	path, err := rep.writeJSON(filepath.Join(t.TempDir(), "r.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// A search that disagrees with the map, or a kind the data does not
// imply, fails the run.
func TestChecksCatchDisagreement(t *testing.T) {
	in := &Inputs{Partitions: []PartInput{{Partition: 0, Committed: 5}, {Partition: 1, Committed: 10}}}
	a := []Translation{{Partition: 0, Kind: groups.Exact, Offset: 5}, {Partition: 1, Kind: groups.End, Offset: 12}}
	b := []Translation{{Partition: 0, Kind: groups.Exact, Offset: 6}, {Partition: 1, Kind: groups.End, Offset: 12}}
	if d := compare(a, a); d != "" {
		t.Fatal(d)
	}
	if d := compare(a, b); !strings.Contains(d, "1 of 2 partitions differ") {
		t.Fatalf("compare: %q", d)
	}
	in.Partitions[1].Checkpoint.TargetNext = 12
	if d := expectKinds(in, a, 10); d != "" {
		t.Fatal(d)
	}
	if d := expectKinds(in, a, 11); !strings.Contains(d, "partition 1") {
		t.Fatalf("expectKinds: %q", d)
	}
	if bound(1) != 4 || bound(2) != 6 || bound(1000) != 24 || bound(1024) != 24 || bound(1025) != 26 {
		t.Fatal("bound is not 2*ceil(log2 n)+4")
	}
}
