// Package quotes fetches stock quotes in the background for a trading
// dashboard: [Client.Fetch] starts fetching a quote and returns at once
// with a [Future], which holds the quote once it has arrived.
package quotes

import (
	"context"
	"sync/atomic"
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
	go func() {
		q, err := c.Source.Quote(ctx, symbol)
		f.quote, f.err = q, err
		f.ready.Store(true)
		close(f.done)
	}()
	return f
}

type Future struct {
	done  chan struct{}
	quote Quote
	err   error
	ready atomic.Bool // stored after quote and err are written
}

func (f *Future) Done() bool {
	return f.ready.Load()
}

func (f *Future) Get() (Quote, error) {
	if !f.ready.Load() {
		<-f.done
	}
	return f.quote, f.err
}

func (f *Future) Wait(ctx context.Context) (Quote, error) {
	if f.ready.Load() {
		return f.quote, f.err
	}
	select {
	case <-f.done:
		return f.quote, f.err
	case <-ctx.Done():
		return Quote{}, ctx.Err()
	}
}
