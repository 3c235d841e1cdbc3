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

// A query asks the refresher for one match's score.
type query struct {
	match string
	reply chan<- answer
}

type answer struct {
	score Score
	ok    bool
}

// A Board's scores belong to its refresher goroutine alone; Score asks it
// over a channel. No shared memory, so no race: but the refresher answers
// only between fetches, so Score waits behind a slow feed.
type Board struct {
	queries chan query
	first   chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
}

// Open starts the refresher and waits for its first fetch.
func Open(feed Feed, every time.Duration) *Board {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Board{queries: make(chan query), first: make(chan struct{}), stop: cancel, done: make(chan struct{})}
	go b.refresh(ctx, feed, every)
	<-b.first
	return b
}

func (b *Board) refresh(ctx context.Context, feed Feed, every time.Duration) {
	defer close(b.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var scores map[string]Score
	fetch := func() {
		if s, err := feed.Scores(ctx); err == nil {
			scores = s
		}
	}
	fetch()
	close(b.first)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fetch()
		case q := <-b.queries:
			s, ok := scores[q.match]
			q.reply <- answer{s, ok}
		}
	}
}

// Score asks the refresher for the score of match.
func (b *Board) Score(match string) (Score, bool) {
	reply := make(chan answer, 1)
	select {
	case b.queries <- query{match, reply}:
		a := <-reply
		return a.score, a.ok
	case <-b.done:
		return Score{}, false
	}
}

// Close stops the refresher, cancelling a fetch in progress, and returns
// once the refresher has returned.
func (b *Board) Close() {
	b.stop()
	<-b.done
}
