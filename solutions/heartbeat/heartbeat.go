// Package heartbeat keeps a service instance registered as alive: a
// [Heartbeat] tells a [Registry] every interval that the instance is still
// up, from Start until Stop.
package heartbeat

import (
	"context"
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

	// Set by Start and only read after it: the caller's rule that Start and
	// Stop are not called at the same time orders them.
	cancel context.CancelFunc // ends the loop's context: the loop exits, a beat in flight is cancelled
	done   chan struct{}      // closed by the loop as it exits; nil before Start
}

// New returns a Heartbeat that will beat for instance to registry every
// interval, once started. interval must be positive.
func New(registry Registry, instance string, interval time.Duration) *Heartbeat {
	return &Heartbeat{registry: registry, instance: instance, interval: interval}
}

// Start starts sending beats in the background: the first one interval
// after Start, then one every interval. A beat that fails is not retried:
// the next one is due an interval later anyway. Call Start at most once.
//
// The goroutine Start starts exits once Stop has cancelled its context,
// after the beat in flight, if any, has returned.
func (h *Heartbeat) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan struct{})
	ticker := time.NewTicker(h.interval)
	go func() {
		defer close(h.done) // the last thing the loop does: Stop's receive happens after everything above
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				// A beat that takes longer than an interval is late
				// anyway; Stop cancels it sooner.
				beatCtx, cancelBeat := context.WithTimeout(ctx, h.interval)
				_ = h.registry.Beat(beatCtx, h.instance) // the registry notices a missed beat
				cancelBeat()
			case <-ctx.Done():
				// Stopping the ticker alone would not end this loop: a
				// stopped ticker's channel is never closed, so a loop
				// that only waits for ticks waits for ever.
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
	if h.done == nil {
		return // never started: there is no loop to stop
	}
	h.cancel() // a CancelFunc may be called again: a second Stop is safe
	// The happens-before edge Stop promises: the loop closes done only
	// after its last beat has returned, so when this receive completes,
	// no beat is in flight and none will begin. A closed channel stays
	// ready, so a second Stop returns at once.
	<-h.done
}
