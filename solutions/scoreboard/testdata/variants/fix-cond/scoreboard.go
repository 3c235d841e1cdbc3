// Package scoreboard serves live football scores from a [Board] that a
// background goroutine keeps fresh, fetching them from a [Feed] at every
// tick.
package scoreboard

import (
	"context"
	"sync"
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

// A Board holds the latest scores and keeps them fresh.
type Board struct {
	mu      sync.Mutex       // protects scores and fetched
	fetched *sync.Cond       // signalled, with mu, when the first fetch is done
	scores  map[string]Score // the latest scores
	first   bool             // whether the first fetch is done

	stop context.CancelFunc // ends the refresher
	done chan struct{}      // closed when the refresher has returned
}

// Open starts the refresher and waits on a condition variable, in a loop
// on its predicate, until the first fetch is done.
func Open(feed Feed, every time.Duration) *Board {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Board{stop: cancel, done: make(chan struct{})}
	b.fetched = sync.NewCond(&b.mu)
	go b.refresh(ctx, feed, every)

	b.mu.Lock()
	for !b.first {
		b.fetched.Wait()
	}
	b.mu.Unlock()
	return b
}

func (b *Board) refresh(ctx context.Context, feed Feed, every time.Duration) {
	defer close(b.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		scores, err := feed.Scores(ctx)
		b.mu.Lock()
		if err == nil {
			b.scores = scores
		}
		if !b.first {
			b.first = true
			b.fetched.Broadcast()
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Score returns the latest score of match, and whether the board has one.
func (b *Board) Score(match string) (Score, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.scores[match]
	return s, ok
}

// Close stops the refresher, cancelling a fetch in progress, and returns
// once the refresher has returned.
func (b *Board) Close() {
	b.stop()
	<-b.done
}
