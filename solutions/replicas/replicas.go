// Package replicas reads a key from a replicated key-value store: a
// [Client] asks every [Replica] at once and takes the first answer.
package replicas

import (
	"context"
	"errors"
)

// ErrNoAnswer is returned, wrapped with every replica's own error, by
// [Client.Get] when no replica could answer.
var ErrNoAnswer = errors.New("replicas: no replica answered")

// A Replica is one copy of the store.
type Replica interface {
	// Get returns the value of key. It may take long; it should return
	// soon after ctx is done.
	Get(ctx context.Context, key string) (string, error)
}

// A Client reads from a set of replicas that all hold the same data.
type Client struct {
	Replicas []Replica
}

// An answer is one replica's reply.
type answer struct {
	value string
	err   error
}

// Get asks every replica for key at once and returns the first value that
// comes back: the slow replicas no longer slow every read down.
//
// A replica that fails is skipped, and Get waits for the others. If every
// replica fails (or there are none), Get returns an error that wraps
// [ErrNoAnswer] and each replica's error. If ctx is done first, Get returns
// an error that wraps ctx.Err().
//
// Every goroutine Get starts ends soon after Get returns: the replicas
// still working are cancelled, and their answers are dropped.
func (c *Client) Get(ctx context.Context, key string) (string, error) {
	// ctx is done once Get returns, for whatever reason: it cancels the
	// replicas still working, and tells their goroutines that nobody
	// will receive their answers any more.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	answers := make(chan answer) // each answer is handed to Get, or dropped once ctx is done
	for _, r := range c.Replicas {
		go func() {
			v, err := r.Get(ctx, key)
			// The send has a way out. While Get waits, it receives; once
			// Get has taken the first value (or given up), its deferred
			// cancel has closed ctx.Done(), so the second case is ready.
			// Either way this goroutine exits as soon as its replica has
			// answered, and the replica answers soon after the cancel.
			select {
			case answers <- answer{v, err}:
			case <-ctx.Done():
			}
		}()
	}

	errs := []error{ErrNoAnswer}
	for range c.Replicas {
		select {
		case a := <-answers:
			if a.err == nil {
				return a.value, nil // the deferred cancel releases the losers
			}
			errs = append(errs, a.err)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return "", errors.Join(errs...)
}
