package main

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/bench/internal/workload"
)

// copyOf reads records as the check would, after change alters them.
func copyOf(s *workload.Spec, change func(i int, r *kgo.Record) []*kgo.Record) Copy {
	c := Copy{Sums: make([]Sum, s.Partitions)}
	for i := range s.Records {
		for _, r := range change(i, record(s, "t", i)) {
			c.add(r)
		}
	}
	return c
}

func TestCompare(t *testing.T) {
	s, err := workload.NewSpec(40, 16, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := expected(s)
	same := func(_ int, r *kgo.Record) []*kgo.Record { return []*kgo.Record{r} }
	if got := compare(want, copyOf(s, same)); got != "" {
		t.Fatalf("an exact copy: %q, want no difference", got)
	}
	traced := copyOf(s, func(_ int, r *kgo.Record) []*kgo.Record {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "kmigrate-trace", Value: []byte("x")})
		return []*kgo.Record{r}
	})
	if got := compare(want, traced); got != "" {
		t.Fatalf("a copy with an added header: %q, want no difference", got)
	}
	if got, wantS := addedSummary(traced.Added), `header "kmigrate-trace" on 40 records`; got != wantS {
		t.Fatalf("added: %q, want %q", got, wantS)
	}
	cases := map[string]struct {
		change func(i int, r *kgo.Record) []*kgo.Record
		want   string
	}{
		"duplicate": {func(i int, r *kgo.Record) []*kgo.Record {
			if i == 5 {
				return []*kgo.Record{r, r}
			}
			return []*kgo.Record{r}
		}, "41 records in total, want 40; partition 1 has 11, want 10"},
		"lost": {func(i int, r *kgo.Record) []*kgo.Record {
			if i == 6 {
				return nil
			}
			return []*kgo.Record{r}
		}, "39 records in total, want 40; partition 2 has 9, want 10"},
		"restamped": {func(i int, r *kgo.Record) []*kgo.Record {
			if i == 7 {
				r.Timestamp = r.Timestamp.Add(time.Millisecond)
			}
			return []*kgo.Record{r}
		}, "partition 3: 10 records as expected but a different key, value, timestamp, header or order"},
		"header changed": {func(i int, r *kgo.Record) []*kgo.Record {
			if i == 8 {
				r.Headers[0].Value = []byte("9")
			}
			return []*kgo.Record{r}
		}, "partition 0: 10 records as expected but a different"},
		"header dropped": {func(i int, r *kgo.Record) []*kgo.Record {
			if i == 9 {
				r.Headers = nil
			}
			return []*kgo.Record{r}
		}, "1 records lost the peerbench-seq header"},
	}
	for name, tc := range cases {
		if got := compare(want, copyOf(s, tc.change)); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want it to start with %q", name, got, tc.want)
		}
	}
	// Two records of a partition swapped: same count and bytes.
	swapped := Copy{Sums: make([]Sum, s.Partitions)}
	for i := range s.Records {
		j := i
		switch i {
		case 0:
			j = 4
		case 4:
			j = 0
		}
		swapped.add(record(s, "t", j))
	}
	if got := compare(want, swapped); !strings.HasPrefix(got, "partition 0: 10 records as expected but a different") {
		t.Errorf("swapped: %q", got)
	}
}
