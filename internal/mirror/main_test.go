package mirror_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: sessions,
// clients and background loops must stop when their context ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
