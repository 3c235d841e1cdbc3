// Package orderbook keeps the resting orders of one market: a [Book]
// takes buy and sell limit orders from many traders at once, and rejects
// any order that would trade against the other side (this book only rests
// orders; matching is done elsewhere).
package orderbook

import (
	"errors"
	"fmt"
	"sync"
)

// The errors of [Book.Place] and [Book.Cancel].
var (
	ErrInvalid   = errors.New("orderbook: invalid order")
	ErrDuplicate = errors.New("orderbook: duplicate order id")
	ErrCrossed   = errors.New("orderbook: order crosses the spread")
	ErrNoOrder   = errors.New("orderbook: no such order")
)

// A Side is the side of the book an order rests on.
type Side int

// The sides of the book.
const (
	Buy Side = iota + 1
	Sell
)

func (s Side) String() string {
	switch s {
	case Buy:
		return "buy"
	case Sell:
		return "sell"
	}
	return fmt.Sprintf("Side(%d)", int(s))
}

// An Order offers to buy or sell Qty units at Price or better.
type Order struct {
	ID    string
	Side  Side
	Price int64 // in ticks
	Qty   int64
}

// A Book holds resting orders. Its methods may be called from many
// goroutines at once.
type Book struct {
	mu     sync.Mutex       // protects orders
	orders map[string]Order // by ID
}

// New returns an empty book.
func New() *Book {
	return &Book{orders: make(map[string]Order)}
}

// Place rests o in the book. It returns ErrInvalid if o has no ID, no
// valid side, or a price or quantity that is not positive; ErrDuplicate if
// an order with o's ID rests in the book; and ErrCrossed if o would trade
// against the other side: a buy at or above the best ask, or a sell at or
// below the best bid.
func (b *Book) Place(o Order) error {
	if o.ID == "" || o.Side != Buy && o.Side != Sell || o.Price <= 0 || o.Qty <= 0 {
		return fmt.Errorf("%w: %+v", ErrInvalid, o)
	}
	b.mu.Lock()
	if _, ok := b.orders[o.ID]; ok {
		b.mu.Unlock()
		return fmt.Errorf("%w %q", ErrDuplicate, o.ID)
	}
	bid, ask := b.best()
	if o.Side == Buy && ask > 0 && o.Price >= ask || o.Side == Sell && bid > 0 && o.Price <= bid {
		b.mu.Unlock()
		return fmt.Errorf("%w: %s %q at %d, best bid %d, best ask %d", ErrCrossed, o.Side, o.ID, o.Price, bid, ask)
	}
	b.orders[o.ID] = o
	b.mu.Unlock()
	return nil
}

// Cancel removes the order id from the book and returns it. It returns
// ErrNoOrder if no order with that ID rests in the book.
func (b *Book) Cancel(id string) (Order, error) {
	b.mu.Lock()
	o, ok := b.orders[id]
	if !ok {
		b.mu.Unlock()
		return Order{}, fmt.Errorf("%w %q", ErrNoOrder, id)
	}
	delete(b.orders, id)
	b.mu.Unlock()
	return o, nil
}

// Best returns the best bid and the best ask: the highest price of the
// buy orders and the lowest price of the sell orders, 0 for a side with
// no orders.
func (b *Book) Best() (bid, ask int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.best()
}

// Len returns the number of orders resting in the book.
func (b *Book) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.orders)
}

// best is Best for a caller that holds b.mu.
func (b *Book) best() (bid, ask int64) {
	for _, o := range b.orders {
		switch {
		case o.Side == Buy && o.Price > bid:
			bid = o.Price
		case o.Side == Sell && (ask == 0 || o.Price < ask):
			ask = o.Price
		}
	}
	return bid, ask
}
