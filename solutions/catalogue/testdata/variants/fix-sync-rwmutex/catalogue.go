// Package catalogue prices a shop's products: a [Catalogue] holds every
// product and the promotion of each category, is read by many goroutines
// at once, and is changed now and then by [Catalogue.Update].
package catalogue

import (
	"errors"
	"fmt"
	"sync"
	"time"
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

	mu       sync.RWMutex         // protects products and promos
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
	// One read lock for the whole price, taken once: the list price and the
	// promotion are read under it, so no Update (which needs the write lock)
	// lands between them, and nothing here asks for the lock again. A
	// second RLock on this goroutine would wait for any writer that started
	// waiting after the first, while that writer waits for the first to be
	// released: Go's RWMutex is not reentrant, unlike Python's RLock.
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.products[sku]
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownProduct, sku)
	}
	return p.Price * (100 - c.discountLocked(p.Category)) / 100, nil
}

// Discount returns the percentage taken off every product of category
// now: 0 when the category has no promotion or its promotion has ended.
func (c *Catalogue) Discount(category string) int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.discountLocked(category)
}

// discountLocked is Discount for a caller that already holds c.mu, for
// reading or writing. It never locks c.mu itself.
func (c *Catalogue) discountLocked(category string) int64 {
	now := c.clock.Now()
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
