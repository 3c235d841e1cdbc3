// Package inventory runs a web shop's stock: a [Stock] counts the units of
// every product on the shelves and the units reserved for checkouts in
// progress, and a [Shop] checks orders out, charging each customer
// ([Payments]) while the goods are reserved.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
)

// ErrOutOfStock is returned when fewer units of a product are available
// than an order asks for.
var ErrOutOfStock = errors.New("inventory: out of stock")

// A Stock counts the units of each product, by SKU, that a shop holds. It
// must be made with [NewStock]. Its methods may be called from many
// goroutines at once.
//
// A Stock holds a mutex, so it must not be copied once made: it is used
// through a *Stock, and every method has a pointer receiver. A method with
// a value receiver would lock a copy of mu that no other call ever sees,
// while the maps, which a copy shares, go unprotected.
type Stock struct {
	mu       sync.Mutex     // protects onHand and reserved
	onHand   map[string]int // units on the shelves, by SKU
	reserved map[string]int // units on the shelves promised to checkouts in progress
}

// NewStock returns a Stock that holds onHand[sku] units of each SKU.
func NewStock(onHand map[string]int) *Stock {
	return &Stock{onHand: maps.Clone(onHand), reserved: make(map[string]int)}
}

// Available returns the units of sku that can still be sold: on the
// shelves, and not reserved.
func (s *Stock) Available(sku string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onHand[sku] - s.reserved[sku]
}

// Reserve sets n units of sku aside for a checkout. If fewer than n are
// available, it reserves nothing and returns an error wrapping
// [ErrOutOfStock].
func (s *Stock) Reserve(sku string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if available := s.onHand[sku] - s.reserved[sku]; available < n {
		return fmt.Errorf("%w: %d of %q wanted, %d available", ErrOutOfStock, n, sku, available)
	}
	s.reserved[sku] += n
	return nil
}

// Release puts n units of sku that a checkout reserved back on sale: the
// checkout failed.
func (s *Stock) Release(sku string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserved[sku] -= n
}

// Ship takes n units of sku that a checkout reserved off the shelves: the
// checkout is paid.
func (s *Stock) Ship(sku string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserved[sku] -= n
	s.onHand[sku] -= n
}

// Payments charges customers: it is a payment provider's API. Charge may
// take long; it is called from many goroutines at once, and should return
// soon after ctx is done.
type Payments interface {
	Charge(ctx context.Context, customer string, cents int64) error
}

// An Order is one customer buying units of one product.
type Order struct {
	Customer string
	SKU      string
	Quantity int
	Price    int64 // of one unit, in cents
}

// A Shop sells the goods in its Stock. Its methods may be called from many
// goroutines at once: one for every customer checking out.
type Shop struct {
	Stock    *Stock // shared by every checkout; guarded by its own mutex
	Payments Payments
}

// Checkout sells an order: it reserves the goods, charges the customer for
// them, and ships them once paid, or puts them back on sale if the charge
// fails. It returns the units of the product left for other customers
// right after.
//
// The stock is locked only while it is counted, never while the customer
// is charged: many checkouts charge their customers at the same time.
func (s *Shop) Checkout(ctx context.Context, o Order) (left int, err error) {
	// Every checkout calls the methods of the one Stock that s.Stock
	// points to, and so locks its one mu: each Unlock happens before the
	// next Lock, so every count sees the one before it. Each step holds mu
	// on its own, and the charge holds nothing, so checkouts charge their
	// customers in parallel: the reservation, not the lock, keeps the
	// goods for the customer in the meantime.
	if o.Quantity <= 0 {
		return 0, fmt.Errorf("inventory: order of %d units of %q, want at least 1", o.Quantity, o.SKU)
	}
	if err := s.Stock.Reserve(o.SKU, o.Quantity); err != nil {
		return 0, err
	}
	if err := s.Payments.Charge(ctx, o.Customer, int64(o.Quantity)*o.Price); err != nil {
		s.Stock.Release(o.SKU, o.Quantity)
		return 0, fmt.Errorf("inventory: charge %s: %w", o.Customer, err)
	}
	s.Stock.Ship(o.SKU, o.Quantity)
	return s.Stock.Available(o.SKU), nil
}
