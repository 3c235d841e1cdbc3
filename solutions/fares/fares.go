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
// s.Timeout. It returns as soon as every source has answered or the timeout
// has passed, whichever comes first. Sources that answer later are ignored
// and sources that fail are skipped; if no fare arrived, Cheapest returns
// [ErrNoFare]. If ctx ends first, it returns ctx's error.
//
// When Cheapest returns, the sources still quoting are told to stop: the
// ctx they were given is done. A source may not answer before that.
//
// Every goroutine Cheapest starts ends once its source has answered, even if
// Cheapest has returned by then: no goroutine outlives the slowest source.
func (s *Search) Cheapest(ctx context.Context, route string) (Fare, error) {
	// ctx is done once Cheapest returns (or the caller gives up): it tells
	// the sources still quoting to stop, and it tells their goroutines that
	// nobody will receive their answers any more.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	results := make(chan quote) // each answer is handed to Cheapest, or dropped once ctx is done
	for _, src := range s.Sources {
		go func() {
			fare, err := src.Quote(ctx, route)
			// The send has a way out. While Cheapest collects, it receives
			// the answer; once Cheapest has returned, its deferred cancel
			// has closed ctx.Done(), so the second case is ready. Either
			// way this goroutine exits as soon as its source has answered.
			select {
			case results <- quote{fare, err}:
			case <-ctx.Done():
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
			break collect // time is up: the deferred cancel stops the sources still quoting
		case <-ctx.Done():
			return Fare{}, ctx.Err()
		}
	}
	if !found {
		return Fare{}, ErrNoFare
	}
	return best, nil
}
