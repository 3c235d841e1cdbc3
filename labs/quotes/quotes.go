// Package quotes fetches stock quotes in the background for a trading
// dashboard: [Client.Fetch] starts fetching a quote and returns at once
// with a [Future], which holds the quote once it has arrived.
package quotes

import "context"

// A Quote is the last traded price of a stock.
type Quote struct {
	Symbol string // such as "ACME"
	Price  int64  // in cents
}

// A Source fetches quotes: it is the exchange's API. Quote may take long;
// it returns soon after ctx is done, with ctx's error.
type Source interface {
	Quote(ctx context.Context, symbol string) (Quote, error)
}

// A Client fetches quotes from its Source in the background.
type Client struct {
	Source Source
}

// Fetch starts fetching the quote for symbol and returns at once, without
// waiting for it. The fetch runs in a goroutine of its own until Source
// answers; ctx is passed to Source.
func (c *Client) Fetch(ctx context.Context, symbol string) *Future {
	f := &Future{done: make(chan struct{})}
	go func() {
		q, err := c.Source.Quote(ctx, symbol)
		f.quote, f.err = q, err
		f.ready = true
		close(f.done)
	}()
	return f
}

// A Future is a quote being fetched, like Python's
// concurrent.futures.Future. Its methods may be called from any number of
// goroutines at once, any number of times.
type Future struct {
	done chan struct{} // closed once the fetch has finished

	// The fetch's result, written by the fetching goroutine when the fetch
	// has finished.
	quote Quote
	err   error
	// ready is set once quote and err are written. The dashboard calls
	// Done 60 times a second for every symbol on screen, so Done and Get
	// check this flag instead of the channel.
	ready bool
}

// Done reports, without waiting, whether the fetch has finished (Python:
// future.done()). Once Done has returned true, Get returns at once.
func (f *Future) Done() bool {
	// TODO: the race detector reports this read, and every other read of
	// ready. What tells a caller that quote and err have been written?
	return f.ready
}

// Get waits for the fetch to finish and returns its quote and error
// (Python: future.result()). Every call returns the same quote and error.
func (f *Future) Get() (Quote, error) {
	if f.ready {
		return f.quote, f.err
	}
	<-f.done
	return f.quote, f.err
}

// Wait is like Get, but gives up when ctx is done before the fetch has
// finished, and returns the zero Quote and ctx's error (Python:
// future.result(timeout=...)). The fetch goes on: a later Get or Wait
// returns its result. When ctx is done and the fetch has finished, Wait
// may return either.
func (f *Future) Wait(ctx context.Context) (Quote, error) {
	if f.ready {
		return f.quote, f.err
	}
	select {
	case <-f.done:
		return f.quote, f.err
	case <-ctx.Done():
		return Quote{}, ctx.Err()
	}
}
