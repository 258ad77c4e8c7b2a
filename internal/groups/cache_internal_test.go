package groups

import (
	"context"
	"errors"
	"testing"

	"github.com/kmigrate/kmigrate/internal/state"
)

// TestStateCache: the first get reads, later ones share it until put
// replaces it; a failed read is not kept; a nil cache reads every time.
func TestStateCache(t *testing.T) {
	reads := 0
	fail := errors.New("boom")
	var next error
	load := func(context.Context) (*state.Snapshot, error) {
		reads++
		if next != nil {
			return nil, next
		}
		return &state.Snapshot{}, nil
	}
	var nilCache *StateCache
	for range 2 {
		if _, cached, err := nilCache.get(t.Context(), load); cached || err != nil {
			t.Fatalf("nil cache: cached %v, err %v", cached, err)
		}
	}
	if reads != 2 {
		t.Fatalf("nil cache: %d reads, want 2", reads)
	}

	reads = 0
	c := &StateCache{}
	next = fail
	if _, _, err := c.get(t.Context(), load); !errors.Is(err, fail) {
		t.Fatalf("failed read: %v", err)
	}
	next = nil
	first, cached, err := c.get(t.Context(), load)
	if err != nil || cached {
		t.Fatalf("first read: cached %v, err %v", cached, err)
	}
	again, cached, _ := c.get(t.Context(), load)
	if again != first || !cached || reads != 2 {
		t.Fatalf("second get: same %v cached %v, %d reads; want the first, cached, 2 reads", again == first, cached, reads)
	}
	newer := &state.Snapshot{}
	c.put(newer)
	if got, cached, _ := c.get(t.Context(), load); got != newer || !cached || reads != 2 {
		t.Fatalf("after put: newer %v cached %v, %d reads", got == newer, cached, reads)
	}
}
