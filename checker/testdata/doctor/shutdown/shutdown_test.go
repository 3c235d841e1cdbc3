package shutdown

import "testing"

func TestStopFromSignalAndDefer(t *testing.T) {
	s := New()
	defer s.Stop()
	s.Stop() // the signal handler
	if !s.Stopped() {
		t.Error("not stopped")
	}
}
