package main_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// What a group's application receives, checked record by record against
// the source, and where its committed offsets point.

// consume runs the group's application on the source or the target for up
// to max messages (0: to the end of every partition) and checks each
// message it receives: counting from the group's first read on either
// cluster, the i-th message of a partition must be the i-th
// committed-visible source record of that partition (on the target: its
// copy, at the offset the copy has there), with the same key, value,
// headers (tracing headers aside) and timestamp. So nothing is received
// twice, nothing is skipped and nothing else is received.
func (f *groupFixture) consume(t *testing.T, onTarget bool, max int) {
	t.Helper()
	cl, where := f.onSource, "source"
	if onTarget {
		cl, where = f.onTarget, "target"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	msgs, err := cl.ConsumeGroup(ctx, f.group, groupTopics, max)
	if err != nil {
		t.Fatalf("consume on the %s: %v", where, err)
	}
	if max > 0 && len(msgs) != max {
		t.Fatalf("consume on the %s: received %d messages, want %d", where, len(msgs), max)
	}
	for _, m := range msgs {
		k := tp{m.Topic, m.Partition}
		recs, i := f.source[k], f.read[k]
		if i >= len(recs) {
			t.Fatalf("consume on the %s: %s offset %d (%s) received after all %d records of the partition: a duplicate or a record the source never had",
				where, k, m.Offset, content(m), len(recs))
		}
		want := recs[i]
		at := want.Offset
		if onTarget {
			at = f.copyAt[k][want.Offset]
		}
		if got, exp := content(m), content(kafkatest.FromRecord(want)); m.Offset != at || got != exp {
			t.Fatalf("consume on the %s: record %d of %s received is offset %d %s; want offset %d (source offset %d) %s",
				where, i, k, m.Offset, got, at, want.Offset, exp)
		}
		f.read[k]++
	}
	t.Logf("consumed %d messages on the %s", len(msgs), where)
}

// skippedByClient counts as consumed the records of transactional source
// partitions that the client committed past without returning them (see
// clientKind.autoCommit).
func (f *groupFixture) skippedByClient(t *testing.T, committed map[tp]int64) {
	t.Helper()
	for _, k := range slices.SortedFunc(maps.Keys(committed), compareTP) {
		recs := f.source[k]
		for k.topic == topicTxn && f.read[k] < len(recs) && recs[f.read[k]].Offset < committed[k] {
			t.Logf("%s: the client committed offset %d without returning source offset %d: librdkafka's automatic commit skipped it, not kmigrate",
				k, committed[k], recs[f.read[k]].Offset)
			f.read[k]++
		}
	}
}

// checkPositions checks that the group's committed offsets on one cluster
// are its positions: every record (copy) before the offset was received
// and none at or after it.
func (f *groupFixture) checkPositions(t *testing.T, committed map[tp]int64, onTarget bool) {
	t.Helper()
	for k, at := range committed {
		recs, i := f.source[k], f.read[k]
		off := func(j int) int64 {
			if onTarget {
				return f.copyAt[k][recs[j].Offset]
			}
			return recs[j].Offset
		}
		if i > 0 && off(i-1) >= at || i < len(recs) && off(i) < at {
			t.Errorf("%s: the group's offset on the %s is %d, but it received %d of %d records (on that cluster, last at %d, next at %d)",
				k, cluster(onTarget), at, i, len(recs), offOr(i > 0, func() int64 { return off(i - 1) }), offOr(i < len(recs), func() int64 { return off(i) }))
		}
	}
}

func cluster(target bool) string {
	if target {
		return "target"
	}
	return "source"
}

func offOr(ok bool, f func() int64) int64 {
	if ok {
		return f()
	}
	return -1
}

// loadCopies reads the target topics and maps each copy to its source
// record through its tracing header; the copies must be the source's
// records, in order, each once.
func (f *groupFixture) loadCopies(t *testing.T) {
	t.Helper()
	for _, topic := range groupTopics {
		for _, r := range f.pair.Target.ConsumeAll(t, topic) {
			k := tp{topic, r.Partition}
			o, ok, err := trace.Find(r.Headers)
			if !ok || err != nil || o.ClusterID != f.pair.Source.ID || o.Topic != topic || o.Partition != r.Partition {
				t.Fatalf("target %s offset %d: tracing header %+v (found %v, %v), want a copy of source %s", k, r.Offset, o, ok, err, k)
			}
			i := len(f.copies[k])
			if i >= len(f.source[k]) || f.source[k][i].Offset != o.Offset ||
				content(kafkatest.FromRecord(r)) != content(kafkatest.FromRecord(f.source[k][i])) {
				t.Fatalf("target %s offset %d is the copy of source offset %d, want copy %d of the source partition in order", k, r.Offset, o.Offset, i)
			}
			f.copies[k] = append(f.copies[k], r)
			if f.copyAt[k] == nil {
				f.copyAt[k] = map[int64]int64{}
			}
			f.copyAt[k][o.Offset] = r.Offset
		}
	}
	for k, rs := range f.source {
		if len(f.copies[k]) != len(rs) {
			t.Fatalf("target %s holds %d copies, want %d", k, len(f.copies[k]), len(rs))
		}
	}
}

// content is what a consumer must see of a record, whichever cluster it
// reads: key, value, headers without kmigrate's and the timestamp.
func content(m kafkatest.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "key %s value %s ts %d headers [", quoted(m.Key), quoted(m.Value), m.Timestamp.UnixMilli())
	for _, h := range m.Headers {
		if !trace.IsTracing(h.Key) {
			fmt.Fprintf(&b, " %q=%s", h.Key, quoted(h.Value))
		}
	}
	b.WriteString(" ]")
	return b.String()
}

func quoted(s *string) string {
	if s == nil {
		return "null"
	}
	return strconv.Quote(*s)
}

// printableKey is how the report prints a record key (UTF-8 keys quoted).
func printableKey(k []byte) string {
	if k == nil {
		return ""
	}
	if !utf8.Valid(k) || len(k) > 64 {
		panic("the fixture's keys are short UTF-8")
	}
	return strconv.Quote(string(k))
}

func committedOffsets(t *testing.T, c *kafkatest.Cluster, group string) map[tp]int64 {
	t.Helper()
	out := map[tp]int64{}
	for topic, ps := range c.CommittedOffsets(t, group) {
		for p, o := range ps {
			out[tp{topic, p}] = o
		}
	}
	return out
}

// finish checks that the group has received every committed-visible source
// record.
func (f *groupFixture) finish(t *testing.T) {
	t.Helper()
	for _, k := range slices.SortedFunc(maps.Keys(f.source), compareTP) {
		if f.read[k] != len(f.source[k]) {
			t.Errorf("%s: the group received %d of the %d source records", k, f.read[k], len(f.source[k]))
		}
	}
}
