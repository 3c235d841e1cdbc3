// Package fares finds the cheapest flight fare for a route by asking every
// airline ([Source]) at once and keeping the answers that arrive in time
// ([Search]).
package fares

import (
	"context"
	"errors"
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

// A quote is one source's answer.
type quote struct {
	fare Fare
	err  error
}

// Cheapest returns the cheapest fare for route among those quoted within
// s.Timeout.
func (s *Search) Cheapest(ctx context.Context, route string) (Fare, error) {
	done := make(chan struct{}) // closed when Cheapest returns
	defer close(done)

	results := make(chan quote)
	for _, src := range s.Sources {
		go func() {
			// This source's own deadline: it is told to stop at the
			// search's timeout, or earlier if the caller gives up.
			qctx, cancel := context.WithTimeout(ctx, s.Timeout)
			defer cancel()
			fare, err := src.Quote(qctx, route)
			select {
			case results <- quote{fare, err}:
			case <-done: // nobody is listening any more
			}
		}()
	}

	timer := time.NewTimer(s.Timeout)
	defer timer.Stop()

	var best Fare
	found := false
collect:
	for range s.Sources {
		select {
		case q := <-results:
			if q.err == nil && (!found || q.fare.Price < best.Price) {
				best, found = q.fare, true
			}
		case <-timer.C:
			break collect
		case <-ctx.Done():
			return Fare{}, ctx.Err()
		}
	}
	if !found {
		return Fare{}, ErrNoFare
	}
	return best, nil
}
