// Package notifier serves requests until it is shut down.
//
// Tu et al., blocking, Chan: a channel made only on one path (Serve) is
// received from on another (Shutdown without Serve): a nil channel blocks
// forever.
package notifier

// A Server handles requests in a goroutine of its own.
type Server struct {
	quit    chan struct{}
	done    chan struct{} // made by Serve, closed when the loop ends
	handled int
}

// NewServer returns a server that is not serving yet.
func NewServer() *Server { return &Server{quit: make(chan struct{})} }

// Serve handles requests until Shutdown.
func (s *Server) Serve(requests <-chan string) {
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.quit:
				return
			case <-requests:
				s.handled++
			}
		}
	}()
}

// Shutdown stops the server and waits for its loop to end.
func (s *Server) Shutdown() {
	close(s.quit)
	<-s.done // want "deadlock: operation on a nil channel"
}
