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
	mu     sync.Mutex       // protects scores
	scores map[string]Score // the latest scores

	first sync.WaitGroup     // done once the first fetch is done
	stop  context.CancelFunc // ends the refresher
	done  chan struct{}      // closed when the refresher has returned
}

// Open starts the refresher and waits for the first fetch on a WaitGroup
// of one, which the refresher marks done exactly once (sync.OnceFunc).
func Open(feed Feed, every time.Duration) *Board {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Board{stop: cancel, done: make(chan struct{})}
	b.first.Add(1)
	go b.refresh(ctx, feed, every)
	b.first.Wait()
	return b
}

func (b *Board) refresh(ctx context.Context, feed Feed, every time.Duration) {
	defer close(b.done)
	fetched := sync.OnceFunc(b.first.Done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if scores, err := feed.Scores(ctx); err == nil {
			b.mu.Lock()
			b.scores = scores
			b.mu.Unlock()
		}
		fetched()
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
