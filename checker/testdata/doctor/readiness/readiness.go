// Package readiness waits for a service to come up.
//
// Nothing is blocked here: the caller polls a flag that the service's
// start-up forgot to set, sleeping between tries. The doctor can only
// say that the test was still sleeping at its deadline (a timeout).
package readiness

import (
	"sync"
	"time"
)

// A Service loads its configuration in the background.
type Service struct {
	mu     sync.Mutex // protects ready and config
	ready  bool
	config map[string]string
}

// Start begins loading.
func (s *Service) Start() { go s.init() }

func (s *Service) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config = map[string]string{"mode": "prod"}
}

// Ready reports whether start-up finished.
func (s *Service) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// AwaitReady polls until the service is ready.
func (s *Service) AwaitReady() {
	for !s.Ready() {
		time.Sleep(10 * time.Millisecond) // want "timeout: sleeping past the deadline"
	}
}
