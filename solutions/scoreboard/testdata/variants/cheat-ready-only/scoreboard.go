// Package scoreboard serves live football scores from a [Board] that a
// background goroutine keeps fresh, fetching them from a [Feed] at every
// tick.
package scoreboard

import (
	"context"
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

// A Board holds the latest scores and keeps them fresh: its refresher
// goroutine fetches them from a Feed at once and again at every tick, until
// Close. Score may be called from many goroutines at once, while the
// refresher runs.
type Board struct {
	scores map[string]Score // the latest scores, replaced whole by the refresher

	first chan struct{}      // closed by the refresher when its first fetch is done
	stop  context.CancelFunc // ends the refresher
	done  chan struct{}      // closed when the refresher has returned
}

// Open starts a Board whose refresher fetches the scores from feed at once
// and again every interval. A fetch that fails leaves the scores as they
// were; the next tick tries again.
//
// Open returns as soon as the first fetch is done, so that Score answers
// from the first scores and never from an empty board. When the first
// fetch failed, the board stays empty until a later fetch succeeds.
func Open(feed Feed, every time.Duration) *Board {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Board{first: make(chan struct{}), stop: cancel, done: make(chan struct{})}
	go b.refresh(ctx, feed, every)

	// The refresher closes first after it has stored the first scores, and
	// a close happens before a receive that returns because of it: what
	// the first fetch stored is there for every Score from here on. No
	// sleep can promise that, however long.
	<-b.first
	return b
}

// refresh fetches the scores at once and then at every tick, until ctx is
// done. It returns, and closes b.done, only when ctx is done: after
// Close, at its next select, or at once if it is waiting for the feed,
// which returns early when ctx is done.
func (b *Board) refresh(ctx context.Context, feed Feed, every time.Duration) {
	defer close(b.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	first := b.first
	for {
		if scores, err := feed.Scores(ctx); err == nil {
			b.scores = scores
		}
		if first != nil {
			close(first) // the first fetch is done, whether it failed or not
			first = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Score returns the latest score of match, and whether the board has one.
// It answers from the board at once and never waits for the feed, even
// while a fetch is in progress.
func (b *Board) Score(match string) (Score, bool) {
	s, ok := b.scores[match]
	return s, ok
}

// Close stops the refresher, cancelling a fetch in progress, and returns
// once the refresher has returned.
func (b *Board) Close() {
	b.stop()
	<-b.done
}
