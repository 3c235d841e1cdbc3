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
	"maps"
	"sync/atomic"
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
//
// Readers never lock: every version of the catalogue is an immutable
// snapshot, published through an atomic pointer. Update copies the current
// snapshot, changes the copy and publishes it in one store, so a reader
// sees either all of an update or none of it.
type Catalogue struct {
	clock Clock

	mu      deadlock.Mutex // serializes Updates (writers only)
	current atomic.Pointer[snapshot]
}

// A snapshot is one version of the catalogue. It is never changed once
// published.
type snapshot struct {
	products map[string]Product   // by SKU
	promos   map[string]Promotion // by category
}

// discount is the percentage taken off category at the time now.
func (s *snapshot) discount(category string, now time.Time) int64 {
	promo, ok := s.promos[category]
	if !ok || !now.Before(promo.Until) {
		return 0
	}
	return promo.Percent
}

// New returns a catalogue of products and promos whose promotions end by
// clock.
func New(clock Clock, products []Product, promos []Promotion) *Catalogue {
	c := &Catalogue{clock: clock}
	c.current.Store(&snapshot{
		products: make(map[string]Product, len(products)),
		promos:   make(map[string]Promotion, len(promos)),
	})
	c.Update(products, promos)
	return c
}

// Price returns what the product sku costs now: its list price less the
// promotion of its category, rounded down to the cent. It reads one
// version of the catalogue: never an old list price with a new promotion,
// or a new list price with an old one.
func (c *Catalogue) Price(sku string) (int64, error) {
	s := c.current.Load() // one version for the whole computation
	p, ok := s.products[sku]
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownProduct, sku)
	}
	return p.Price * (100 - s.discount(p.Category, c.clock.Now())) / 100, nil
}

// Discount returns the percentage taken off every product of category
// now: 0 when the category has no promotion or its promotion has ended.
func (c *Catalogue) Discount(category string) int64 {
	return c.current.Load().discount(category, c.clock.Now())
}

// Update stores products and promos in one step, replacing the products
// with the same SKUs and the promotions of the same categories: a price
// is computed either before all of it or after all of it.
func (c *Catalogue) Update(products []Product, promos []Promotion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.current.Load()
	next := &snapshot{products: maps.Clone(old.products), promos: maps.Clone(old.promos)}
	for _, p := range products {
		next.products[p.SKU] = p
	}
	for _, promo := range promos {
		next.promos[promo.Category] = promo
	}
	c.current.Store(next)
}
