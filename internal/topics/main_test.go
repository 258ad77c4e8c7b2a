package topics_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: Inspect,
// Apply and the syncs run requests concurrently and must wait for them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
