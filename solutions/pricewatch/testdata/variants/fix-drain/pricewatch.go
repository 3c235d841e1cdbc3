// Package pricewatch quotes stock prices from a market-data feed that is
// sometimes slow, asking again when a request takes too long ([Watcher]).
package pricewatch

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrSlowFeed is returned by [Watcher.Price] when no request to the feed
// answered within its timeout.
var ErrSlowFeed = errors.New("pricewatch: the feed did not answer in time")

// A Quote is a stock's price.
type Quote struct {
	Symbol string
	Cents  int64
}

// A Feed quotes prices: it is the market-data provider's API.
type Feed interface {
	// Quote returns symbol's current price. It may take long. Once ctx is
	// done it stops and returns ctx's error, but only after finishing the
	// read it is in, which can take seconds.
	Quote(ctx context.Context, symbol string) (Quote, error)
}

// A Watcher asks a Feed for prices and asks again when the feed is slow.
type Watcher struct {
	Feed     Feed
	Attempts int           // how many requests Price makes at most, at least 1
	Timeout  time.Duration // how long Price waits for each request
}

// A reply is one request's answer.
type reply struct {
	quote Quote
	err   error
}

// Price returns symbol's price. It asks w.Feed and waits w.Timeout for the
// answer; if none has come by then, it cancels that request and at once
// asks again, without waiting for the cancelled request to stop, up to
// w.Attempts requests in all. It returns the first answer: the quote, or
// the feed's error (a request that fails is not retried). If no request
// answered in time, Price returns an error that wraps [ErrSlowFeed]. If ctx
// is done first, Price returns ctx's error at once.
func (w *Watcher) Price(ctx context.Context, symbol string) (Quote, error) {
	for range w.Attempts {
		request, cancel := context.WithCancel(ctx)
		replies := make(chan reply)
		go func() {
			q, err := w.Feed.Quote(request, symbol)
			replies <- reply{q, err}
		}()

		select {
		case r := <-replies:
			cancel()
			return r.quote, r.err
		case <-time.After(w.Timeout):
			cancel() // too slow: stop this request and ask again
			go drain(replies)
		case <-ctx.Done():
			cancel()
			go drain(replies)
			return Quote{}, ctx.Err()
		}
	}
	return Quote{}, fmt.Errorf("%w: %d requests for %s, %v each", ErrSlowFeed, w.Attempts, symbol, w.Timeout)
}

// drain receives the one reply of a request Price gave up on, so that the
// request's goroutine can end; it ends with it.
func drain(replies <-chan reply) { <-replies }
