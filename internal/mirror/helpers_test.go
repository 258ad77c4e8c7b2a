package mirror_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/mirror"
	"github.com/kmigrate/kmigrate/internal/trace"
)

func selectAll(t *testing.T) config.Selection {
	t.Helper()
	s, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bounded returns default settings for a bounded exactly-once copy with
// short transactions.
func bounded() config.Mirror {
	m := config.DefaultMirror()
	m.Until = config.UntilEnd
	m.TransactionInterval = 50 * time.Millisecond
	return m
}

// newMirror builds a Mirror copying topics (same name on both sides).
func newMirror(t *testing.T, pair *kafkatest.Pair, name string, settings config.Mirror, topics ...string) *mirror.Mirror {
	t.Helper()
	var ts []mirror.Topic
	for _, tp := range topics {
		ts = append(ts, mirror.Topic{Source: tp, Target: tp})
	}
	m, err := mirror.New(mirror.Options{
		Name: name, Source: &pair.Source.Config, Target: &pair.Target.Config,
		SourceID: pair.Source.ID, TargetID: pair.Target.ID,
		Topics: ts, Groups: selectAll(t), Settings: settings, StateReplicationFactor: -1,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func run(t *testing.T, m *mirror.Mirror) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not finish within 60s")
	}
}

// assertMirrored checks that target topic tgt holds exactly the records of
// source topic src, partition by partition, in order, with key, value,
// headers (less tracing headers) and timestamp, and that each tracing
// header names its source record. It returns the number of records.
func assertMirrored(t *testing.T, pair *kafkatest.Pair, src, tgt string, tracing bool) int {
	t.Helper()
	want := pair.Source.ConsumeAll(t, src)
	got := pair.Target.ConsumeAll(t, tgt)
	byPart := func(rs []*kgo.Record) map[int32][]*kgo.Record {
		m := map[int32][]*kgo.Record{}
		for _, r := range rs {
			m[r.Partition] = append(m[r.Partition], r)
		}
		return m
	}
	wp, gp := byPart(want), byPart(got)
	for p, ws := range wp {
		gs := gp[p]
		if len(gs) != len(ws) {
			t.Errorf("%s partition %d: %d records on the target, %d on the source", tgt, p, len(gs), len(ws))
			continue
		}
		for i := range ws {
			if d := diff(ws[i], gs[i], pair.Source.ID, tracing); d != "" {
				t.Errorf("%s partition %d record %d (source offset %d): %s", tgt, p, i, ws[i].Offset, d)
				break
			}
		}
	}
	for p, gs := range gp {
		if _, ok := wp[p]; !ok {
			t.Errorf("%s partition %d: %d records on the target, none on the source", tgt, p, len(gs))
		}
	}
	return len(want)
}

func diff(w, g *kgo.Record, srcID string, tracing bool) string {
	switch {
	case !bytes.Equal(w.Key, g.Key) || (w.Key == nil) != (g.Key == nil):
		return fmt.Sprintf("key %q, want %q", g.Key, w.Key)
	case !bytes.Equal(w.Value, g.Value) || (w.Value == nil) != (g.Value == nil):
		return fmt.Sprintf("value %.40q, want %.40q", g.Value, w.Value)
	case !w.Timestamp.Equal(g.Timestamp):
		return fmt.Sprintf("timestamp %v, want %v", g.Timestamp, w.Timestamp)
	case !slices.EqualFunc(trace.Strip(w.Headers), trace.Strip(g.Headers), headerEqual):
		return fmt.Sprintf("headers %v, want %v", g.Headers, w.Headers)
	}
	o, ok, err := trace.Find(g.Headers)
	if ok != tracing || err != nil {
		return fmt.Sprintf("tracing header present %v (err %v), want %v", ok, err, tracing)
	}
	if tracing && (o.ClusterID != srcID || o.Topic != w.Topic || o.Partition != w.Partition || o.Offset != w.Offset || o.Timestamp != w.Timestamp.UnixMilli()) {
		return fmt.Sprintf("tracing header %v, want %s/%s/%d@%d", o, srcID, w.Topic, w.Partition, w.Offset)
	}
	return ""
}

func headerEqual(a, b kgo.RecordHeader) bool {
	return a.Key == b.Key && bytes.Equal(a.Value, b.Value) && (a.Value == nil) == (b.Value == nil)
}

// rec builds a record for topic "orders" partition p.
func rec(p int32, key, value string, ts time.Time, headers ...string) *kgo.Record {
	r := &kgo.Record{Topic: "orders", Partition: p, Timestamp: ts}
	if key != "" {
		r.Key = []byte(key)
	}
	if value != "\x00tombstone" {
		r.Value = []byte(value)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return r
}
