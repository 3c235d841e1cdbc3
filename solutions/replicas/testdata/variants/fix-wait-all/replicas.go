// Package replicas reads a key from a replicated key-value store: a
// [Client] asks every [Replica] at once and takes the first answer.
package replicas

import (
	"context"
	"errors"
	"sync"
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
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu    sync.Mutex // protects value, found and errs
		value string
		found bool
		errs  = []error{ErrNoAnswer}
	)
	first := make(chan struct{}) // closed by the first replica with a value
	var wg sync.WaitGroup
	for _, r := range c.Replicas {
		wg.Go(func() {
			v, err := r.Get(ctx, key)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case !found:
				value, found = v, true
				close(first)
			}
		})
	}
	all := make(chan struct{}) // closed once every replica has answered
	go func() {
		wg.Wait()
		close(all)
	}()

	select {
	case <-first:
	case <-all:
	case <-parent.Done():
	}
	// Stop the others and join them all: they return soon after the cancel.
	cancel()
	<-all
	mu.Lock()
	defer mu.Unlock()
	switch {
	case found:
		return value, nil
	case parent.Err() != nil:
		return "", parent.Err()
	}
	return "", errors.Join(errs...)
}
