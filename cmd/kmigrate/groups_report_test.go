package main_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The JSON report of groups migrate and groups rollback, and what it must
// say for a group's offsets.

// moveReport is the JSON `groups migrate` and `groups rollback` print.
type moveReport struct {
	Migration string       `json:"migration"`
	Direction string       `json:"direction"`
	DryRun    bool         `json:"dry_run"`
	Groups    []movedGroup `json:"groups"`
	OK        bool         `json:"ok"`
}

type movedGroup struct {
	Group      string           `json:"group"`
	Method     string           `json:"method"`
	DryRun     bool             `json:"dry_run"`
	Committed  int              `json:"committed"`
	Partitions []movedPartition `json:"partitions"`
	Unmirrored []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"unmirrored"`
	Warnings []string `json:"warnings"`
	Error    string   `json:"error"`
}

type movedPartition struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	From      int64        `json:"from"`
	ToTopic   string       `json:"to_topic"`
	To        int64        `json:"to"`
	Kind      string       `json:"kind"`
	Skipped   int64        `json:"skipped"`
	Previous  int64        `json:"previous"`
	Changed   bool         `json:"changed"`
	Record    *movedRecord `json:"record"`
	Native    int64        `json:"native"`
}

type movedRecord struct {
	Offset    int64     `json:"offset"`
	Origin    int64     `json:"origin"`
	Key       string    `json:"key"`
	Timestamp time.Time `json:"timestamp"`
}

func (p movedPartition) String() string {
	s := fmt.Sprintf("%s/%d from %d to %s/%d kind %s skipped %d previous %d changed %v native %d",
		p.Topic, p.Partition, p.From, p.ToTopic, p.To, p.Kind, p.Skipped, p.Previous, p.Changed, p.Native)
	if r := p.Record; r != nil {
		return s + fmt.Sprintf(" record{offset %d origin %d key %s ts %d}", r.Offset, r.Origin, r.Key, r.Timestamp.UnixMilli())
	}
	return s + " record none"
}

func parseReport(t *testing.T, out string) moveReport {
	t.Helper()
	var rep moveReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("parse the JSON report: %v\n%s", err, out)
	}
	return rep
}

// single checks the report's frame and returns its one group, which must
// have been moved (or, dry, could be).
func (r moveReport) single(t *testing.T, direction string, dry bool, group string) movedGroup {
	t.Helper()
	if r.Direction != direction || r.DryRun != dry || !r.OK || len(r.Groups) != 1 {
		t.Fatalf("report: direction %q dry_run %v ok %v with %d groups; want %q %v true with 1", r.Direction, r.DryRun, r.OK, len(r.Groups), direction, dry)
	}
	g := r.Groups[0]
	if g.Group != group || g.Method != "exact" || g.DryRun != dry || g.Error != "" {
		t.Fatalf("report: group %q method %q dry_run %v error %q; want %q exact %v no error", g.Group, g.Method, g.DryRun, g.Error, group, dry)
	}
	return g
}

// checkPartitions compares a report's partitions with the expected ones,
// in topic and partition order.
func checkPartitions(t *testing.T, what string, got, want []movedPartition) {
	t.Helper()
	lines := func(ps []movedPartition) []string {
		ps = slices.Clone(ps)
		slices.SortFunc(ps, func(a, b movedPartition) int { return compareTP(tp{a.Topic, a.Partition}, tp{b.Topic, b.Partition}) })
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	g, w := lines(got), lines(want)
	if slices.Equal(g, w) {
		return
	}
	var b strings.Builder
	for i := range max(len(g), len(w)) {
		gl, wl := "(none)", "(none)"
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		mark := "  "
		if gl != wl {
			mark = "! "
		}
		fmt.Fprintf(&b, "%sgot  %s\n%swant %s\n", mark, gl, mark, wl)
	}
	t.Errorf("%s: the report's partitions differ from the expected translations:\n%s", what, b.String())
}

// expectMigrate is what groups migrate must report for the group's source
// offsets: each partition goes to the copy of the first source record at
// or after the committed offset (exact when that offset holds it,
// next-copied across a compaction gap, an aborted record or a marker), or
// past the last copy when the group had read everything (end).
func (f *groupFixture) expectMigrate(committed map[tp]int64) []movedPartition {
	var want []movedPartition
	for _, k := range slices.SortedFunc(maps.Keys(committed), compareTP) {
		c := committed[k]
		p := movedPartition{Topic: k.topic, Partition: k.partition, From: c, ToTopic: k.topic, To: f.forward(k, c), Previous: -1, Changed: true}
		if next, ok := f.sourceAtOrAfter(k, c); ok {
			p.Kind = "next-copied"
			if next.Offset == c {
				p.Kind = "exact"
			}
			p.Record = &movedRecord{Offset: p.To, Origin: next.Offset, Key: printableKey(next.Key), Timestamp: next.Timestamp}
		} else {
			p.Kind = "end"
		}
		want = append(want, p)
	}
	return want
}

// sourceAtOrAfter returns the first committed-visible source record of k
// at or after offset o.
func (f *groupFixture) sourceAtOrAfter(k tp, o int64) (*kgo.Record, bool) {
	recs := f.source[k]
	i, _ := slices.BinarySearchFunc(recs, o, func(r *kgo.Record, o int64) int { return cmp.Compare(r.Offset, o) })
	if i == len(recs) {
		return nil, false
	}
	return recs[i], true
}

// forward is where a group at source offset o of k resumes on the target:
// the copy of the first source record at or after o, else past the last
// copy.
func (f *groupFixture) forward(k tp, o int64) int64 {
	if r, ok := f.sourceAtOrAfter(k, o); ok {
		return f.copyAt[k][r.Offset]
	}
	cs := f.copies[k]
	return cs[len(cs)-1].Offset + 1
}

// expectRollback is what groups rollback must report for the group's
// target offsets: each partition goes back to the source offset of the
// first copy at or after the target offset (exact on a copy, next-copied
// on one of kmigrate's commit markers), or to the end of the source
// partition as mirrored when no copy follows (end); native counts the
// records written natively on the target after the offset.
func (f *groupFixture) expectRollback(t *testing.T, committed, previous map[tp]int64, native map[tp]int64) []movedPartition {
	t.Helper()
	ends, err := f.pair.Source.Admin(t).ListEndOffsets(t.Context(), groupTopics...)
	if err != nil {
		t.Fatal(err)
	}
	var want []movedPartition
	for _, k := range slices.SortedFunc(maps.Keys(committed), compareTP) {
		at := committed[k]
		cs := f.copies[k]
		i, _ := slices.BinarySearchFunc(cs, at, func(r *kgo.Record, c int64) int { return cmp.Compare(r.Offset, c) })
		p := movedPartition{Topic: k.topic, Partition: k.partition, From: at, ToTopic: k.topic, Previous: -1, Native: native[k]}
		if prev, ok := previous[k]; ok {
			p.Previous = prev
		}
		if i < len(cs) {
			p.To, p.Kind = f.source[k][i].Offset, "next-copied" // copies are the source records in order
			if cs[i].Offset == at {
				p.Kind = "exact"
			}
		} else {
			end, _ := ends.Lookup(k.topic, k.partition)
			p.To, p.Kind = end.Offset, "end"
		}
		// A source offset the group already has that is equivalent (it
		// translates to the same target position: only markers, aborted
		// or removed records lie between) is kept; its record is then the next one.
		if p.Previous >= 0 && f.forward(k, p.Previous) == at && p.Previous != p.To {
			p.To, p.Kind = p.Previous, "next-copied"
		}
		if src, ok := f.sourceAtOrAfter(k, p.To); ok {
			p.Record = &movedRecord{Offset: src.Offset, Origin: -1, Key: printableKey(src.Key), Timestamp: src.Timestamp}
		}
		p.Changed = p.To != p.Previous
		want = append(want, p)
	}
	return want
}
