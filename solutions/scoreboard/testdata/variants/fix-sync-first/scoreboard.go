// Package scoreboard serves live football scores from a [Board] that a
// background goroutine keeps fresh, fetching them from a [Feed] at every
// tick.
package scoreboard

import (
	"context"
	"sync/atomic"
	"time"
)

// A Score is the score of one match.
type Score struct {
	Home, Away int // goals
}

// A Feed is where the scores come from, such as a sports data provider's
// API. It may be slow.
type Feed interface {
	// Scores returns the current score of every match in play, by match
	// ("NED-ESP"). It returns early, with ctx's error, once ctx is done.
	Scores(ctx context.Context) (map[string]Score, error)
}

// A Board holds the latest scores and keeps them fresh. Open does the
// first fetch itself; a refresher goroutine does the later ones.
type Board struct {
	scores atomic.Pointer[map[string]Score] // the latest scores, swapped whole
	stop   context.CancelFunc               // ends the refresher
	done   chan struct{}                    // closed when the refresher has returned
}

// Open fetches the scores once, itself, and then starts the refresher for
// every later tick: the first scores are stored before the go statement,
// which happens before anything the refresher or Score does after Open.
func Open(feed Feed, every time.Duration) *Board {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Board{stop: cancel, done: make(chan struct{})}
	tick := time.NewTicker(every) // ticks count from the first fetch, as the refresher's would
	b.fetch(ctx, feed)
	go b.refresh(ctx, feed, tick)
	return b
}

// fetch stores the feed's scores, unless the fetch fails. An atomic store
// happens before the load that sees it.
func (b *Board) fetch(ctx context.Context, feed Feed) {
	if scores, err := feed.Scores(ctx); err == nil {
		b.scores.Store(&scores)
	}
}

// refresh fetches at every tick until ctx is done, then returns and
// closes b.done.
func (b *Board) refresh(ctx context.Context, feed Feed, tick *time.Ticker) {
	defer close(b.done)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			b.fetch(ctx, feed)
		}
	}
}

// Score returns the latest score of match, and whether the board has one.
func (b *Board) Score(match string) (Score, bool) {
	p := b.scores.Load()
	if p == nil {
		return Score{}, false
	}
	s, ok := (*p)[match]
	return s, ok
}

// Close stops the refresher, cancelling a fetch in progress, and returns
// once the refresher has returned.
func (b *Board) Close() {
	b.stop()
	<-b.done
}
