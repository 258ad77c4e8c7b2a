package main_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// verifyReport is the part of `kmigrate verify --output json` these tests
// read, decoded as a user's script would.
type verifyReport struct {
	Version    int    `json:"version"`
	Mode       string `json:"mode"`
	OK         bool   `json:"ok"`
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Status    string `json:"status"`
		Source    struct {
			From  int64 `json:"from"`
			Until int64 `json:"until"`
		} `json:"source"`
		Counts struct {
			SourceRecords int64 `json:"source_records"`
			Copies        int64 `json:"copies"`
			Matched       int64 `json:"matched"`
			Duplicates    int64 `json:"duplicates"`
		} `json:"counts"`
		Digest struct {
			Source string `json:"source"`
			Target string `json:"target"`
			Match  bool   `json:"match"`
		} `json:"digest"`
		Problems []verifyProblem `json:"problems"`
	} `json:"partitions"`
	Totals struct {
		SourceRecords int64 `json:"source_records"`
		Matched       int64 `json:"matched"`
		Problems      int64 `json:"problems"`
	} `json:"totals"`
}

type verifyProblem struct {
	Kind                 string `json:"kind"`
	SourceOffset         int64  `json:"source_offset"`
	TargetOffset         int64  `json:"target_offset"`
	ExpectedTargetOffset int64  `json:"expected_target_offset"`
	OtherTargetOffset    int64  `json:"other_target_offset"`
}

// TestVerify runs `kmigrate verify` on a copy made by `kmigrate mirror`:
// the clean copy passes with exit 0, and after one copy is produced again
// on the target (with its tracing header) it exits 1 and names the
// duplicate by source offset and both target offsets.
func TestVerify(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	seed(t, pair.Source, "events", 3, 300)
	if out, errOut, code := run(t, mirrorArgs(pair, "--until", "end")...); code != 0 {
		t.Fatalf("mirror: exit %d\n%s%s", code, out, errOut)
	}
	args := []string{"verify", "--source", strings.Join(pair.Source.Addrs, ","), "--target", strings.Join(pair.Target.Addrs, ","),
		"--output", "json", "--log-level", "warn"}
	verify := func(wantCode int) verifyReport {
		t.Helper()
		out, errOut, code := run(t, args...)
		var rep verifyReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != wantCode {
			t.Fatalf("verify: exit %d (want %d), %v\nstdout:\n%s\nstderr:\n%s", code, wantCode, err, out, errOut)
		}
		return rep
	}

	rep := verify(0)
	if !rep.OK || rep.Version != 1 || rep.Mode != "full" || len(rep.Partitions) != 3 || rep.Totals.SourceRecords != 300 || rep.Totals.Matched != 300 || rep.Totals.Problems != 0 {
		t.Errorf("clean copy: %+v", rep)
	}
	for _, p := range rep.Partitions {
		if p.Status != "ok" || p.Source.From != 0 || p.Source.Until != 100 || p.Counts.SourceRecords != 100 || p.Counts.Copies != 100 ||
			p.Counts.Matched != 100 || !p.Digest.Match || len(p.Digest.Source) != 64 || len(p.Problems) != 0 {
			t.Errorf("clean copy, partition %d: %+v", p.Partition, p)
		}
	}

	// The fault: the copy of source offset 42 of partition 1, produced
	// again.
	var orig *kgo.Record
	for _, r := range pair.Target.ConsumeAll(t, "events") {
		if o, ok, err := trace.Find(r.Headers); err == nil && ok && r.Partition == 1 && o.Offset == 42 {
			orig = r
		}
	}
	if orig == nil {
		t.Fatal("no copy of events/1 offset 42 on the target")
	}
	dup := &kgo.Record{Topic: "events", Partition: 1, Key: orig.Key, Value: orig.Value, Headers: orig.Headers, Timestamp: orig.Timestamp}
	pair.Target.Produce(t, dup)

	rep = verify(1)
	want := []verifyProblem{{Kind: "duplicate", SourceOffset: 42, TargetOffset: dup.Offset, ExpectedTargetOffset: -1, OtherTargetOffset: orig.Offset}}
	for _, p := range rep.Partitions {
		switch {
		case p.Partition == 1 && (p.Status != "failed" || p.Counts.Duplicates != 1 || p.Counts.Copies != 101 || p.Digest.Match || !reflect.DeepEqual(p.Problems, want)):
			t.Errorf("faulted partition: %+v; want the problems %+v", p, want)
		case p.Partition != 1 && p.Status != "ok":
			t.Errorf("partition %d: %+v", p.Partition, p)
		}
	}
	if rep.OK || rep.Totals.Problems != 1 {
		t.Errorf("faulted copy: ok %v, totals %+v", rep.OK, rep.Totals)
	}
	out, _, code := run(t, args[:len(args)-4]...)
	line := fmt.Sprintf("events/1: duplicate: source offset 42 is copied twice: at target offsets %d and %d", orig.Offset, dup.Offset)
	if code != 1 || !strings.Contains(out, line) || !strings.Contains(out, "FAILED: 1 problem in 1 partition.") {
		t.Errorf("text output: exit %d, want 1 and the line %q:\n%s", code, line, out)
	}
}
