package main

import (
	"strings"
	"testing"
)

func TestParseReads(t *testing.T) {
	got, err := parseReads([]byte("R 0 5 v5\nsome log line\nR 1 0 v1 with space\nR 0 7 v7\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []read{{0, 5, "v5"}, {1, 0, "v1 with space"}, {0, 7, "v7"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("read %d: %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := parseReads([]byte("R 0 5 a\nR 0 5 b\n")); err == nil || !strings.Contains(err.Error(), "partition 0 offset 5 after offset 5") {
		t.Fatalf("a repeated offset: %v", err)
	}
	if _, err := parseReads([]byte("R x 5 a\n")); err == nil {
		t.Fatal("a bad line parsed")
	}
}

func TestTally(t *testing.T) {
	holds := []string{"v0", "v1", "v2", "v3", "v4", "v5"}
	src := []read{{0, 0, "v0"}, {0, 1, "v1"}, {1, 0, "v2"}}
	exact := tally(holds, src, []read{{0, 2, "v3"}, {1, 1, "v4"}, {1, 2, "v5"}})
	if exact != (Tally{}) {
		t.Fatalf("an exact move: %+v", exact)
	}
	got := tally(holds, src, []read{{0, 1, "v1"}, {0, 2, "v3"}, {0, 2, "v3"}, {1, 9, "aborted"}, {1, 2, "v5"}})
	want := Tally{Redelivered: 2, Skipped: 1, Extra: 1, FirstSkipped: "v4", FirstRedelivered: "v1 (target partition 0 offset 1)"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
