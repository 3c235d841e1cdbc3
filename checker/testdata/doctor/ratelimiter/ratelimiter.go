// Package ratelimiter is a token bucket.
//
// Tu et al., blocking, Mutex: an early return skips the Unlock, and the
// next caller waits forever.
package ratelimiter

import (
	"sync"
	"time"
)

// A Limiter allows Rate events per second with bursts of Burst.
type Limiter struct {
	mu     sync.Mutex // protects tokens and last
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// New returns a full bucket.
func New(rate, burst float64, now time.Time) *Limiter {
	return &Limiter{rate: rate, burst: burst, tokens: burst, last: now}
}

// Allow reports whether one more event may happen at now.
func (l *Limiter) Allow(now time.Time) bool {
	l.mu.Lock() // want "deadlock: lock never released"
	l.tokens += now.Sub(l.last).Seconds() * l.rate
	if l.tokens > l.burst {
		l.tokens = l.burst
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	l.mu.Unlock()
	return true
}
