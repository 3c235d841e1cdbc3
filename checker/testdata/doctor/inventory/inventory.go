// Package inventory tracks stock in a warehouse.
//
// Tu et al., blocking, Mutex: Reserve takes the warehouse's lock then an
// item's, Restock an item's then the warehouse's (AB-BA across two
// methods). Run at the same time they can deadlock; the doctor reports the
// inversion whether or not this run did.
package inventory

import "sync"

// An Item is one product's stock.
type Item struct {
	mu    sync.Mutex // protects count
	count int
}

// Count returns the item's stock.
func (it *Item) Count() int {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.count
}

// A Warehouse holds items by SKU.
type Warehouse struct {
	mu    sync.Mutex // protects items
	items map[string]*Item
}

// New returns an empty warehouse.
func New() *Warehouse { return &Warehouse{items: map[string]*Item{}} }

// Reserve takes n of sku, if there are enough.
func (w *Warehouse) Reserve(sku string, n int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	it := w.items[sku]
	if it == nil {
		return false
	}
	it.mu.Lock() // want "deadlock: lock-order inversion"
	defer it.mu.Unlock()
	if it.count < n {
		return false
	}
	it.count -= n
	return true
}

// Restock adds n to it and files it under sku.
func (w *Warehouse) Restock(it *Item, sku string, n int) {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.count += n
	w.mu.Lock() // want "deadlock: lock-order inversion"
	w.items[sku] = it
	w.mu.Unlock()
}
