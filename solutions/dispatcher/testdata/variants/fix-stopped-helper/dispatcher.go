// Package dispatcher pays a marketplace's sellers: a [Dispatcher] takes
// payouts from a queue and sends them to a [Bank], one at a time, until it is
// told to stop.
package dispatcher

import (
	"context"
	"fmt"
)

// A Payout is money owed to one seller.
type Payout struct {
	ID     string
	Seller string
	Amount int // in cents
}

// A Bank sends payouts. A transfer takes a few seconds, and once it has begun
// it must not be interrupted: Send has no context on purpose.
type Bank interface {
	Send(p Payout) error
}

// A Dispatcher sends the payouts of a queue to a bank, one at a time.
type Dispatcher struct {
	// Queue holds the payouts waiting to be sent, in the order they must be
	// sent. It is closed once no more payouts will be queued. The payouts
	// still in it when the dispatcher stops are sent by the next one.
	Queue <-chan Payout
	Bank  Bank
}

// Run sends the payouts of d.Queue to d.Bank, one at a time, in queue order,
// and returns nil once the queue is closed and empty. If a payout fails, Run
// returns its error at once, and the payouts after it stay queued.
//
// Cancelling ctx asks Run to stop, as a deploy does before it replaces the
// dispatcher: Run finishes the payout it is sending, if any, and returns
// ctx.Err() without taking another payout from the queue. Once ctx is done,
// Run never starts a new payout, however many are queued.
func (d *Dispatcher) Run(ctx context.Context) error {
	if stopped(ctx) {
		return ctx.Err()
	}
	for {
		var p Payout
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p, ok = <-d.Queue:
		}
		if !ok {
			return nil
		}
		if err := d.Bank.Send(p); err != nil {
			return fmt.Errorf("payout %s to %s: %w", p.ID, p.Seller, err)
		}
		if stopped(ctx) {
			return ctx.Err()
		}
	}
}

// stopped reports, without waiting, whether ctx is done.
func stopped(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}
