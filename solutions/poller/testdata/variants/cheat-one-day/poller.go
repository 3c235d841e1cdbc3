// Package poller waits for long-running cloud operations, such as creating a
// virtual machine or restoring a database: a [Poller] asks an [API] for an
// operation's status until it is done.
package poller

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTimeout is returned by [Poller.Wait] when the operation is still
// running after the poller's Timeout.
var ErrTimeout = errors.New("poller: operation still running after the timeout")

// A Status is what the API says about an operation.
type Status struct {
	Op       string // the operation's ID
	Done     bool   // the operation has finished
	Progress int    // how far along it is, in percent
}

// An API reports the status of operations. Status answers quickly; it
// returns ctx.Err() if ctx is done.
type API interface {
	Status(ctx context.Context, op string) (Status, error)
}

// A Poller waits for operations by asking the API for their status at a
// regular interval.
type Poller struct {
	API API
	// Interval is the time between two status checks; it must be
	// positive.
	Interval time.Duration
	// Timeout is the longest Wait waits for an operation, counted from the
	// call. Zero or negative means no limit: Wait waits as long as the
	// operation runs, until ctx is done. Restoring a large database can
	// take days.
	Timeout time.Duration
}

// Wait checks op's status at once and then every p.Interval, and returns
// its final status as soon as a check finds it done.
//
// If op is still running once p.Timeout has passed since the call, Wait
// returns [ErrTimeout] at that moment. If ctx is done first, Wait returns
// ctx.Err() at once. If a status check fails, Wait returns an error that
// wraps the check's error. With any of these errors, Wait also returns the
// last status it received (the zero Status if none).
func (p *Poller) Wait(ctx context.Context, op string) (Status, error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 24 * time.Hour
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var last Status
	for {
		st, err := p.API.Status(ctx, op)
		if err != nil {
			return last, fmt.Errorf("operation %s: %w", op, err)
		}
		if st.Done {
			return st, nil
		}
		last = st

		select {
		case <-time.After(p.Interval):
		case <-timer.C:
			return last, ErrTimeout
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
}
