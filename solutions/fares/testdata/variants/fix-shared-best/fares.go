// Package fares finds the cheapest flight fare for a route by asking every
// airline ([Source]) at once and keeping the answers that arrive in time
// ([Search]).
package fares

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrNoFare is returned by [Search.Cheapest] when no source quoted a fare
// within the search's timeout.
var ErrNoFare = errors.New("fares: no fare arrived in time")

// A Fare is one airline's price for a route.
type Fare struct {
	Airline string
	Price   int // in cents
}

// A Source quotes fares: it is one airline's API. Quote may take long; it
// should return soon after ctx is done.
type Source interface {
	Quote(ctx context.Context, route string) (Fare, error)
}

// A Search asks every source at once and keeps the cheapest fare that arrives
// within Timeout.
type Search struct {
	Sources []Source
	Timeout time.Duration // how long Cheapest waits for answers
}

// Cheapest returns the cheapest fare for route among those quoted within
// s.Timeout.
func (s *Search) Cheapest(ctx context.Context, route string) (Fare, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the sources still quoting stop when Cheapest returns

	var (
		mu      sync.Mutex // protects best, found, pending and closed
		best    Fare
		found   bool
		pending = len(s.Sources)
		closed  bool // Cheapest has stopped looking
	)
	allIn := make(chan struct{}) // closed by the last source to answer
	if pending == 0 {
		close(allIn)
	}
	for _, src := range s.Sources {
		go func() { // exits as soon as its source answers: it never blocks
			fare, err := src.Quote(ctx, route)
			mu.Lock()
			defer mu.Unlock()
			if closed {
				return // too late: ignored
			}
			if err == nil && (!found || fare.Price < best.Price) {
				best, found = fare, true
			}
			if pending--; pending == 0 {
				close(allIn)
			}
		}()
	}

	timer := time.NewTimer(s.Timeout)
	defer timer.Stop()
	var err error
	select {
	case <-allIn:
	case <-timer.C:
	case <-ctx.Done():
		err = ctx.Err()
	}

	mu.Lock()
	defer mu.Unlock()
	closed = true
	if err != nil {
		return Fare{}, err
	}
	if !found {
		return Fare{}, ErrNoFare
	}
	return best, nil
}
