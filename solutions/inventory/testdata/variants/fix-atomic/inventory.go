// Package inventory runs a web shop's stock: a [Stock] counts the units of
// every product on the shelves and the units reserved for checkouts in
// progress, and a [Shop] checks orders out, charging each customer
// ([Payments]) while the goods are reserved.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrOutOfStock is returned when fewer units of a product are available
// than an order asks for.
var ErrOutOfStock = errors.New("inventory: out of stock")

// A Stock counts the units of each product, by SKU, that a shop holds. It
// must be made with [NewStock]. Its methods may be called from many
// goroutines at once.
type Stock struct {
	// available counts the units of each SKU on the shelves and not
	// reserved. The map is read-only once made; copies of the Stock share
	// it, and the counters in it.
	available map[string]*atomic.Int64
}

// NewStock returns a Stock that holds onHand[sku] units of each SKU.
func NewStock(onHand map[string]int) Stock {
	s := Stock{available: make(map[string]*atomic.Int64, len(onHand))}
	for sku, n := range onHand {
		s.available[sku] = new(atomic.Int64)
		s.available[sku].Store(int64(n))
	}
	return s
}

// Available returns the units of sku that can still be sold: on the
// shelves, and not reserved.
func (s Stock) Available(sku string) int {
	if a := s.available[sku]; a != nil {
		return int(a.Load())
	}
	return 0
}

// Reserve sets n units of sku aside for a checkout. If fewer than n are
// available, it reserves nothing and returns an error wrapping
// [ErrOutOfStock].
func (s Stock) Reserve(sku string, n int) error {
	a := s.available[sku]
	for a != nil {
		old := a.Load()
		if old < int64(n) {
			return fmt.Errorf("%w: %d of %q wanted, %d available", ErrOutOfStock, n, sku, old)
		}
		if a.CompareAndSwap(old, old-int64(n)) {
			return nil
		}
	}
	return fmt.Errorf("%w: %d of %q wanted, none in stock", ErrOutOfStock, n, sku)
}

// Release puts n units of sku that a checkout reserved back on sale: the
// checkout failed.
func (s Stock) Release(sku string, n int) {
	s.available[sku].Add(int64(n))
}

// Ship takes n units of sku that a checkout reserved off the shelves: the
// checkout is paid. They were no longer available since Reserve, so
// nothing changes here.
func (s Stock) Ship(sku string, n int) {}

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
	Stock    Stock
	Payments Payments
}

// Checkout sells an order: it reserves the goods, charges the customer for
// them, and ships them once paid, or puts them back on sale if the charge
// fails. It returns the units of the product left for other customers
// right after.
//
// The stock is locked only while it is counted, never while the customer
// is charged: many checkouts charge their customers at the same time.
func (s Shop) Checkout(ctx context.Context, o Order) (left int, err error) {
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
