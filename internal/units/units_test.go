package units_test

import (
	"testing"

	"github.com/kmigrate/kmigrate/internal/units"
)

func TestOf(t *testing.T) {
	// fnv32a("orders") = 0x325e96ec; mod 16 = 12.
	tests := []struct {
		topic     string
		partition int32
		n, want   int
	}{
		{"orders", 0, 1, 0},
		{"orders", 5, 0, 0},
		{"orders", 0, 16, 12},
		{"orders", 3, 16, 15},
		{"orders", 4, 16, 0},
		{"orders", 20, 16, 0},
		{"", 0, 16, 0x811c9dc5 % 16},
	}
	for _, tt := range tests {
		if got := units.Of(tt.topic, tt.partition, tt.n); got != tt.want {
			t.Errorf("Of(%q, %d, %d) = %d, want %d", tt.topic, tt.partition, tt.n, got, tt.want)
		}
	}
}

// TestOfStable: adding partitions never moves the existing ones, and a
// topic's consecutive partitions land on consecutive units.
func TestOfStable(t *testing.T) {
	first := units.Of("payments", 0, 7)
	for p := range int32(100) {
		if got, want := units.Of("payments", p, 7), (first+int(p))%7; got != want {
			t.Fatalf("partition %d: unit %d, want %d", p, got, want)
		}
	}
}

func TestAll(t *testing.T) {
	if got := units.All(0); len(got) != 1 || got[0] != 0 {
		t.Errorf("All(0) = %v", got)
	}
	if got := units.All(3); len(got) != 3 || got[2] != 2 {
		t.Errorf("All(3) = %v", got)
	}
}

func TestDefault(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		cores  int
		usable int64
		want   int
	}{
		{1, 228 * mib, 2},  // the default 256 MiB budget on one core
		{2, 228 * mib, 2},  // ... on this machine
		{4, 228 * mib, 4},  // ... with four cores
		{64, 228 * mib, 4}, // never more than MaxDefault
		{4, 100 * mib, 2},  // 100/4 and 100/3 are below MinShare
		{2, 96 * mib, 2},   // exactly MinShare each
		{2, 95 * mib, 1},
		{8, 36 * mib, 1}, // --memory-budget 64MiB
		{0, 0, 1},
	} {
		if got := units.Default(c.cores, c.usable); got != c.want {
			t.Errorf("Default(%d, %d MiB) = %d, want %d", c.cores, c.usable/mib, got, c.want)
		}
	}
}
