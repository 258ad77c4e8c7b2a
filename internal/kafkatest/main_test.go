package kafkatest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: every
// cluster, client and subprocess the harness starts must be cleaned up.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
