package topics

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestCheckNames covers what no Apache Kafka source can produce: two
// source topics for one target name, and names that differ only in '.' and
// '_' (Redpanda allows both a.b and a_b).
func TestCheckNames(t *testing.T) {
	tps := []Topic{
		{Source: "a.b", Target: "x.a.b"},
		{Source: "a_b", Target: "x.a_b"},
		{Source: "c", Target: "dup"},
		{Source: "d", Target: "dup"},
		{Source: "e", Target: "e_x"},
		{Source: "f", Target: "there"},
		{Source: "g", Target: "fine"},
		{Source: "h", Target: ".."},
	}
	byTarget := map[string][]string{}
	for _, tp := range tps {
		byTarget[tp.Target] = append(byTarget[tp.Target], tp.Source)
	}
	checkNames(tps, byTarget, kadm.TopicDetails{"e.x": {}, "there": {}})
	want := []string{
		`the target names "x.a.b", "x.a_b" differ only in '.' and '_', which Kafka refuses: change topics.rename, or exclude all but one`,
		`the target names "x.a.b", "x.a_b" differ only in '.' and '_', which Kafka refuses: change topics.rename, or exclude all but one`,
		`source topics "c", "d" all map to this target name: change topics.rename, or exclude all but one`,
		`source topics "c", "d" all map to this target name: change topics.rename, or exclude all but one`,
		`the target name collides with the topic "e.x": Kafka refuses names that differ only in '.' and '_'; change topics.prefix or topics.rename`,
		"",
		"",
		`the target name is not legal: ".." is not a legal topic name: change topics.prefix or topics.rename`,
	}
	for i, tp := range tps {
		wantAction := Action("")
		if want[i] != "" {
			wantAction = Conflict
		}
		if tp.Action != wantAction || tp.Reason != want[i] {
			t.Errorf("%s -> %s: %q %q\nwant %q %q", tp.Source, tp.Target, tp.Action, tp.Reason, wantAction, want[i])
		}
	}
}
