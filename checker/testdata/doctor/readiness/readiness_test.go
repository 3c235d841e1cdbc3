package readiness

import "testing"

func TestStartThenReady(t *testing.T) {
	var s Service
	s.Start()
	s.AwaitReady()
}
