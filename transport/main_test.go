package transport_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The examples run servers: every goroutine they start must be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
