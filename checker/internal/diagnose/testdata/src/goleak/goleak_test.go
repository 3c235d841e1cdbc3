package goleak

import (
	"testing"

	"go.uber.org/goleak"
)

func TestStart(t *testing.T) {
	defer goleak.VerifyNone(t)
	Start(func() {})
}
