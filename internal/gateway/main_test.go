package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: connection
// handlers, the routing poll and upstream clients must stop with Run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
