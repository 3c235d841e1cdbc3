package notifier

import "testing"

func TestServeAndShutdown(t *testing.T) {
	s := NewServer()
	reqs := make(chan string)
	s.Serve(reqs)
	reqs <- "ping"
	s.Shutdown()
}

func TestShutdownBeforeServe(t *testing.T) {
	s := NewServer()
	s.Shutdown()
}
