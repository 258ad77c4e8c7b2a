package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/state"
)

func TestParseLogLine(t *testing.T) {
	l, ok := parseLogLine([]byte(`{"time":"2026-12-02T17:18:23.186137278Z","level":"INFO","msg":"work units assigned","group":"g","units":[0,3,7]}` + "\n"))
	if !ok || l.Msg != msgAssigned || l.Level != "INFO" || !slices.Equal(l.Units, []int{0, 3, 7}) ||
		!l.Time.Equal(time.Date(2026, 12, 2, 17, 18, 23, 186137278, time.UTC)) {
		t.Fatalf("got %+v, %v", l, ok)
	}
	for _, s := range []string{"", "migration m: copied 3 records", `{"level":"INFO"}`, `{"msg":`} {
		if _, ok := parseLogLine([]byte(s)); ok {
			t.Errorf("parseLogLine(%q) accepted", s)
		}
	}
}

func TestOwned(t *testing.T) {
	var have []int
	for _, step := range []struct {
		msg   string
		units []int
		want  []int
	}{
		{msgAssigned, []int{4, 0, 2}, []int{0, 2, 4}},
		{msgAssigned, []int{1, 2}, []int{0, 1, 2, 4}},
		{msgRevoked, []int{2, 4}, []int{0, 1}},
		{"leader work started", nil, []int{0, 1}},
		{msgLost, []int{0, 1}, []int{}},
	} {
		have = owned(have, logLine{Msg: step.msg, Units: step.units})
		if !slices.Equal(have, step.want) {
			t.Fatalf("after %s %v: %v, want %v", step.msg, step.units, have, step.want)
		}
	}
}

func TestWatcher(t *testing.T) {
	var file bytes.Buffer
	w := newWatcher(&file, 4)
	lines := `{"time":"2026-12-02T10:00:00Z","level":"INFO","msg":"mirroring in work units","units":4}
{"time":"2026-12-02T10:00:01Z","level":"INFO","msg":"work units assigned","units":[0,1]}
{"time":"2026-12-02T10:00:02Z","level":"ERROR","msg":"boom"}
{"time":"2026-12-02T10:00:03Z","level":"INFO","msg":"work units assigned","units":[2,3]}
`
	// Written in pieces that split lines, as a pipe may.
	for i := 0; i < len(lines); i += 37 {
		if _, err := w.Write([]byte(lines[min(i, len(lines)):min(i+37, len(lines))])); err != nil {
			t.Fatal(err)
		}
	}
	if file.String() != lines {
		t.Errorf("file got %q", file.String())
	}
	at, _ := w.when(msgAssigned)
	if !at.Equal(time.Date(2026, 12, 2, 10, 0, 1, 0, time.UTC)) {
		t.Errorf("first assigned at %v", at)
	}
	if any, _ := w.when(""); !any.Equal(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("first line at %v", any)
	}
	us, all, _ := w.owns()
	if !slices.Equal(us, []int{0, 1, 2, 3}) || !all.Equal(time.Date(2026, 12, 2, 10, 0, 3, 0, time.UTC)) {
		t.Errorf("owns %v since %v", us, all)
	}
	if e := w.errorLines(); len(e) != 1 || !strings.Contains(e[0], `"boom"`) {
		t.Errorf("error lines %q", e)
	}
}

func TestParseInts(t *testing.T) {
	got, err := parseInts(" 1000, 10000,")
	if err != nil || !slices.Equal(got, []int{1000, 10000}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, s := range []string{"", "0", "1,x", "-5"} {
		if _, err := parseInts(s); err == nil {
			t.Errorf("parseInts(%q) accepted", s)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--partitions", "200,1000", "--procs", "2"})
	if err != nil || !slices.Equal(o.partitions, []int{200, 1000}) || !slices.Equal(o.procs, []int{2}) || o.units != 8 || o.sessionTimeout != 10*time.Second {
		t.Fatalf("got %+v, %v", o, err)
	}
	for _, args := range [][]string{{"--partitions", "150"}, {"--procs", "3"}, {"--partitions", "100", "--group-topics", "2"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestGrowth(t *testing.T) {
	small := Row{Partitions: 1000, VerifySeconds: 2}
	large := Row{Partitions: 10000, VerifySeconds: 50}
	ratio, per, ok := growth(small, large, func(r Row) float64 { return r.VerifySeconds })
	if !ok || ratio != 25 || per != 2.5 {
		t.Fatalf("got %v, %v, %v", ratio, per, ok)
	}
	if _, _, ok := growth(Row{Partitions: 1000}, large, func(r Row) float64 { return r.VerifySeconds }); ok {
		t.Error("growth from zero accepted")
	}
}

func TestCounts(t *testing.T) {
	want := counts{"a": {3, 3}, "b": {2}}
	rename := func(s string) string { return "m." + s }
	got := counts{"m.a": {3, 3}, "m.b": {2}}
	if d := compareCounts(want, got, rename); d != "" {
		t.Errorf("equal counts: %s", d)
	}
	got["m.a"][1] = 1
	if d := compareCounts(want, got, rename); d != "6 records on the target, want 8; m.a/1 has 1 records, want 3" {
		t.Errorf("got %q", d)
	}
	if atLeast(got, want, rename) {
		t.Error("atLeast with a short partition")
	}
	if !atLeast(counts{"m.a": {5, 4}, "m.b": {2}}, want, rename) || atLeast(counts{"m.a": {5, 4}}, want, rename) {
		t.Error("atLeast wrong")
	}
	if got.total() != 6 {
		t.Errorf("total %d", got.total())
	}
}

func TestUncovered(t *testing.T) {
	ends := counts{"a": {3, 4}}
	cps := map[state.TopicPartition]state.Checkpoint{{Topic: "a", Partition: 0}: {Next: 3}}
	if u := uncovered(cps, ends); u != "a/1: checkpoint 0 of 4" {
		t.Errorf("got %q", u)
	}
	cps[state.TopicPartition{Topic: "a", Partition: 1}] = state.Checkpoint{Next: 4}
	if u := uncovered(cps, ends); u != "" {
		t.Errorf("got %q", u)
	}
}
