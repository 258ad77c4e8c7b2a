package kafkatest

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// WithProperties returns a copy of the driver whose runs also set the
// given librdkafka properties (for example max.partition.fetch.bytes, to
// make a consumer interleave partitions batch by batch). They are applied
// after the connection settings; the properties a command sets itself
// (group.id, auto.offset.reset, ...) still win. p is unchanged.
func (p *Python) WithProperties(t testing.TB, props map[string]string) *Python {
	t.Helper()
	b, err := os.ReadFile(p.conf)
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	conf := map[string]string{}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatalf("python: %s: %v", p.conf, err)
	}
	maps.Copy(conf, props)
	if b, err = json.Marshal(conf); err != nil {
		t.Fatalf("python: %v", err)
	}
	q := *p
	q.conf = filepath.Join(t.TempDir(), "librdkafka.json")
	if err := os.WriteFile(q.conf, b, 0o600); err != nil {
		t.Fatalf("python: %v", err)
	}
	return &q
}

// WithProperties returns a copy of the driver whose runs also set the
// given librdkafka properties, appended to its properties file. Arguments
// a command passes itself (-X, -G, ...) still win. k is unchanged.
func (k *Kcat) WithProperties(t testing.TB, props map[string]string) *Kcat {
	t.Helper()
	b, err := os.ReadFile(k.conf)
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	var s strings.Builder
	s.Write(b)
	for _, name := range slices.Sorted(maps.Keys(props)) {
		v := props[name]
		if strings.Contains(name, "=") || strings.ContainsAny(name+v, "\r\n") {
			t.Fatalf("kcat: property %q=%q cannot be written to a properties file", name, v)
		}
		fmt.Fprintf(&s, "%s=%s\n", name, v)
	}
	q := *k
	q.conf = filepath.Join(t.TempDir(), "kcat.properties")
	if err := os.WriteFile(q.conf, []byte(s.String()), 0o600); err != nil {
		t.Fatalf("kcat: %v", err)
	}
	return &q
}
