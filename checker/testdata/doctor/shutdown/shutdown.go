// Package shutdown stops a server once, from any of several places.
//
// Tu et al., non-blocking, channel misuse: Stop closes the quit channel
// every time it is called (close of closed channel).
package shutdown

// A Server runs until stopped.
type Server struct {
	quit chan struct{}
}

// New returns a running server.
func New() *Server { return &Server{quit: make(chan struct{})} }

// Stop stops the server. The signal handler and the deferred cleanup both call it.
func (s *Server) Stop() {
	close(s.quit) // want "panic"
}

// Stopped reports whether Stop was called.
func (s *Server) Stopped() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}
