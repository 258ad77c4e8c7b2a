package kafkatest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// ctx returns a context for one test step, cancelled at cleanup.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	t.Cleanup(cancel)
	return c
}

// format renders a message on one line with every field that matters,
// null apart from empty, so that a mismatch shows exactly what differs.
func format(m kafkatest.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%d@%d key=%s value=%s", m.Topic, m.Partition, m.Offset, quote(m.Key), quote(m.Value))
	for _, h := range m.Headers {
		fmt.Fprintf(&b, " h[%q]=%s", h.Key, quote(h.Value))
	}
	if !m.Timestamp.IsZero() {
		fmt.Fprintf(&b, " ts=%d", m.Timestamp.UnixMilli())
	}
	return b.String()
}

func quote(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

// noTimestamps returns msgs without timestamps, for clients that set their
// own.
func noTimestamps(msgs []kafkatest.Message) []kafkatest.Message {
	out := make([]kafkatest.Message, len(msgs))
	for i, m := range msgs {
		m.Timestamp = time.Time{}
		out[i] = m
	}
	return out
}

// records converts franz-go records to messages.
func records(rs []*kgo.Record) []kafkatest.Message {
	out := make([]kafkatest.Message, len(rs))
	for i, r := range rs {
		out[i] = kafkatest.FromRecord(r)
	}
	return out
}

// assertMessages fails unless got and want are equal message by message.
func assertMessages(t *testing.T, got, want []kafkatest.Message) {
	t.Helper()
	n := max(len(got), len(want))
	for i := range n {
		var g, w string
		if i < len(got) {
			g = format(got[i])
		}
		if i < len(want) {
			w = format(want[i])
		}
		if g != w {
			t.Errorf("message %d:\n got  %s\n want %s", i, g, w)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of acting
// on the real test, to check helpers that skip or fail.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// record runs fn with a recorder on its own goroutine, as testing runs a
// test, so that Skipf and Fatalf can end it with runtime.Goexit.
func record(t *testing.T, fn func(tb testing.TB)) *recorder {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}
