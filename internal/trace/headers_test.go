package trace_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/trace"
)

func h(key, value string) kgo.RecordHeader { return kgo.RecordHeader{Key: key, Value: []byte(value)} }

func TestIsTracing(t *testing.T) {
	for key, want := range map[string]bool{
		"kmigrate.src":   true,
		"kmigrate":       true,
		"kmigrate.other": true,
		"kmigrateX":      true,
		"Kmigrate.src":   false,
		"kmigrat":        false,
		"":               false,
		"x-kmigrate.src": false,
		"traceparent":    false,
	} {
		if got := trace.IsTracing(key); got != want {
			t.Errorf("IsTracing(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestFind(t *testing.T) {
	other := trace.Origin{ClusterID: "c2", Topic: "u", Partition: 1, Offset: 9, Timestamp: 10}
	otherBytes, err := other.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		headers []kgo.RecordHeader
		want    trace.Origin
		ok      bool
		err     string
	}{
		{"nil", nil, trace.Origin{}, false, ""},
		{"none", []kgo.RecordHeader{h("a", "1"), h("kmigrate.other", "x")}, trace.Origin{}, false, ""},
		{"one", []kgo.RecordHeader{h("a", "1"), {Key: trace.HeaderKey, Value: goldenBytes}, h("b", "2")}, goldenOrigin, true, ""},
		{"last wins", []kgo.RecordHeader{{Key: trace.HeaderKey, Value: goldenBytes}, h("a", "1"), {Key: trace.HeaderKey, Value: otherBytes}}, other, true, ""},
		{"last wins even if an earlier one is corrupt", []kgo.RecordHeader{h(trace.HeaderKey, "junk"), {Key: trace.HeaderKey, Value: goldenBytes}}, goldenOrigin, true, ""},
		{"corrupt", []kgo.RecordHeader{{Key: trace.HeaderKey, Value: goldenBytes[:6]}}, trace.Origin{}, true,
			`header "kmigrate.src": malformed tracing header: partition truncated at byte 6`},
		{"empty value", []kgo.RecordHeader{{Key: trace.HeaderKey}}, trace.Origin{}, true,
			`header "kmigrate.src": malformed tracing header: empty value`},
		{"key is case sensitive", []kgo.RecordHeader{{Key: "Kmigrate.src", Value: goldenBytes}}, trace.Origin{}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := trace.Find(tc.headers)
			if got != tc.want || ok != tc.ok || errString(err) != tc.err {
				t.Fatalf("Find = %+v, %v, %v; want %+v, %v, %q", got, ok, err, tc.want, tc.ok, tc.err)
			}
			if err != nil && !errors.Is(err, trace.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			raw, ok, err := trace.FindRaw(tc.headers)
			if ok != tc.ok || errString(err) != tc.err || string(raw.ClusterID) != tc.want.ClusterID ||
				string(raw.Topic) != tc.want.Topic || raw.Offset != tc.want.Offset {
				t.Fatalf("FindRaw = %+v, %v, %v; want %+v, %v, %q", raw, ok, err, tc.want, tc.ok, tc.err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestStrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []kgo.RecordHeader
		want []kgo.RecordHeader
	}{
		{"nil", nil, nil},
		{"empty", []kgo.RecordHeader{}, []kgo.RecordHeader{}},
		{"only tracing", []kgo.RecordHeader{h("kmigrate.src", "1"), h("kmigrate.x", "2")}, nil},
		{"first", []kgo.RecordHeader{h("kmigrate.src", "1"), h("a", "2"), h("b", "3")}, []kgo.RecordHeader{h("a", "2"), h("b", "3")}},
		{"middle", []kgo.RecordHeader{h("a", "1"), h("kmigrate.src", "2"), h("b", "3")}, []kgo.RecordHeader{h("a", "1"), h("b", "3")}},
		{"last", []kgo.RecordHeader{h("a", "1"), h("b", "2"), h("kmigrate", "3")}, []kgo.RecordHeader{h("a", "1"), h("b", "2")}},
		{"several, order kept", []kgo.RecordHeader{h("z", "1"), h("kmigrate.a", ""), h("a", "2"), h("kmigrate.src", ""), h("z", "3")},
			[]kgo.RecordHeader{h("z", "1"), h("a", "2"), h("z", "3")}},
		{"similar names kept", []kgo.RecordHeader{h("Kmigrate.src", "1"), h("x-kmigrate", "2"), h("kmigrat", "3"), h("kmigrateZ", "4")},
			[]kgo.RecordHeader{h("Kmigrate.src", "1"), h("x-kmigrate", "2"), h("kmigrat", "3")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cloneHeaders(tc.in)
			got := trace.Strip(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Strip = %q, want %q", got, tc.want)
			}
			if !reflect.DeepEqual(tc.in, before) {
				t.Fatalf("Strip modified its input: %q, was %q", tc.in, before)
			}
		})
	}
}

func TestStripReturnsSameSlice(t *testing.T) {
	in := []kgo.RecordHeader{h("a", "1"), h("b", "2")}
	got := trace.Strip(in)
	if len(got) != 2 || &got[0] != &in[0] {
		t.Fatal("Strip copied headers that had nothing to strip")
	}
	if n := testing.AllocsPerRun(100, func() { _ = trace.Strip(in) }); n != 0 {
		t.Fatalf("Strip allocated %v times with nothing to strip", n)
	}
}

func cloneHeaders(hs []kgo.RecordHeader) []kgo.RecordHeader {
	if hs == nil {
		return nil
	}
	out := make([]kgo.RecordHeader, len(hs))
	copy(out, hs)
	return out
}
