// Package heartbeat keeps a service instance registered as alive: a
// [Heartbeat] tells a [Registry] every interval that the instance is still
// up, from Start until Stop.
package heartbeat

import (
	"context"
	"sync"
	"time"
)

// A Registry is the service registry that routes traffic to live instances.
// It forgets an instance that has not sent a beat for a while.
type Registry interface {
	// Beat tells the registry that instance is alive. It may take long; it
	// should return soon after ctx is done.
	Beat(ctx context.Context, instance string) error
}

// A Heartbeat sends a beat for one instance to a registry every interval,
// from Start until Stop. Make one with [New].
type Heartbeat struct {
	registry Registry
	instance string
	interval time.Duration
	stop     chan struct{} // closed by the first Stop
	stopOnce sync.Once
}

// New returns a Heartbeat that will beat for instance to registry every
// interval, once started. interval must be positive.
func New(registry Registry, instance string, interval time.Duration) *Heartbeat {
	return &Heartbeat{registry: registry, instance: instance, interval: interval, stop: make(chan struct{})}
}

// Start starts sending beats in the background: the first one interval
// after Start, then one every interval. A beat that fails is not retried:
// the next one is due an interval later anyway. Call Start at most once.
func (h *Heartbeat) Start() {
	ticker := time.NewTicker(h.interval)
	go func() {
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				ctx, cancel := context.WithTimeout(context.Background(), h.interval)
				_ = h.registry.Beat(ctx, h.instance)
				cancel()
			case <-h.stop:
				return
			}
		}
	}()
}

// Stop stops the beats and waits until the background loop has exited:
// once Stop returns, no beat is in flight and no beat will be sent again, so
// the registry will soon forget the instance. Stop may be called more than
// once (a later call does nothing), and before Start (it then does nothing).
// Do not call Start after Stop, and do not call Start and Stop at the same
// time from different goroutines.
func (h *Heartbeat) Stop() {
	h.stopOnce.Do(func() { close(h.stop) })
	time.Sleep(100 * time.Millisecond) // surely the loop has exited by now
}
