// Package catalogue prices a shop's products: a [Catalogue] holds every
// product and the promotion of each category, is read by many goroutines
// at once, and is changed now and then by [Catalogue.Update].
//
// The catalogue builds with github.com/sasha-s/go-deadlock, whose RWMutex
// is a drop-in sync.RWMutex that reports a goroutine locking a lock it
// already holds.
package catalogue

import (
	"errors"
	"fmt"
	"time"

	"github.com/sasha-s/go-deadlock"
)

// ErrUnknownProduct is returned by [Catalogue.Price] for a SKU the
// catalogue does not hold.
var ErrUnknownProduct = errors.New("catalogue: unknown product")

// A Product is something the shop sells.
type Product struct {
	SKU      string
	Category string
	Price    int64 // list price, in cents
}

// A Promotion takes Percent off the list price of every product of
// Category, until the time Until.
type Promotion struct {
	Category string
	Percent  int64 // from 0 to 100
	Until    time.Time
}

// A Clock tells the time; promotions end by it.
type Clock interface {
	Now() time.Time
}

// A Catalogue holds products and promotions. Its methods may be called
// from many goroutines at once, and readers do not wait for each other.
type Catalogue struct {
	clock Clock

	mu       deadlock.RWMutex     // protects products and promos
	products map[string]Product   // by SKU
	promos   map[string]Promotion // by category
}

// New returns a catalogue of products and promos whose promotions end by
// clock.
func New(clock Clock, products []Product, promos []Promotion) *Catalogue {
	c := &Catalogue{
		clock:    clock,
		products: make(map[string]Product, len(products)),
		promos:   make(map[string]Promotion, len(promos)),
	}
	c.Update(products, promos)
	return c
}

// Price returns what the product sku costs now: its list price less the
// promotion of its category, rounded down to the cent. It reads one
// version of the catalogue: never an old list price with a new promotion,
// or a new list price with an old one.
func (c *Catalogue) Price(sku string) (int64, error) {
	// Price and Discount share discountLocked, which expects the caller to
	// hold c.mu: an RWMutex is not reentrant, and a second RLock on the same
	// goroutine waits behind any writer already waiting for Lock.
	now := c.clock.Now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.products[sku]
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownProduct, sku)
	}
	return p.Price * (100 - c.discountLocked(p.Category, now)) / 100, nil
}

// Discount returns the percentage taken off every product of category
// now: 0 when the category has no promotion or its promotion has ended.
func (c *Catalogue) Discount(category string) int64 {
	now := c.clock.Now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.discountLocked(category, now)
}

// discountLocked is Discount at the time now, for a caller that holds c.mu
// (for reading or writing).
func (c *Catalogue) discountLocked(category string, now time.Time) int64 {
	promo, ok := c.promos[category]
	if !ok || !now.Before(promo.Until) {
		return 0
	}
	return promo.Percent
}

// Update stores products and promos in one step, replacing the products
// with the same SKUs and the promotions of the same categories: a price
// is computed either before all of it or after all of it.
func (c *Catalogue) Update(products []Product, promos []Promotion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range products {
		c.products[p.SKU] = p
	}
	for _, promo := range promos {
		c.promos[promo.Category] = promo
	}
}
