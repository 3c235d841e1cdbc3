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
func (c *Client) Get(ctx context.Context, key string) (string, error) {
	answers := make(chan answer)
	for _, r := range c.Replicas {
		go func() {
			v, err := r.Get(ctx, key)
			// TODO: Get takes the first value and returns; the replicas
			// that answer after it wait here for a receiver.
			answers <- answer{v, err}
		}()
	}

	errs := []error{ErrNoAnswer}
	for range c.Replicas {
		select {
		case a := <-answers:
			if a.err == nil {
				return a.value, nil
			}
			errs = append(errs, a.err)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return "", errors.Join(errs...)
}
