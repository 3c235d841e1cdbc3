// Package quotes fetches stock quotes in the background for a trading
// dashboard: [Client.Fetch] starts fetching a quote and returns at once
// with a [Future], which holds the quote once it has arrived.
package quotes

import (
	"context"
	"sync"
)

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

func (c *Client) Fetch(ctx context.Context, symbol string) *Future {
	f := &Future{done: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		close(started)
		f.quote, f.err = c.Source.Quote(ctx, symbol)
		f.ready = true
		close(f.done)
	}()
	<-started // the lock is held before anyone can ask
	return f
}

type Future struct {
	done chan struct{}

	mu    sync.Mutex // protects quote, err and ready
	quote Quote
	err   error
	ready bool
}

func (f *Future) Done() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

func (f *Future) Get() (Quote, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.quote, f.err
}

func (f *Future) Wait(ctx context.Context) (Quote, error) {
	select {
	case <-f.done:
		return f.Get()
	case <-ctx.Done():
		return Quote{}, ctx.Err()
	}
}
