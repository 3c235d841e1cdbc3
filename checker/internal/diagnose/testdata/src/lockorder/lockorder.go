// Package lockorder locks two accounts in argument order.
package lockorder

import "github.com/sasha-s/go-deadlock"

// Account is a balance behind a lock.
type Account struct {
	mu      deadlock.Mutex // protects balance
	balance int
}

// Transfer moves one unit from a to b.
func Transfer(a, b *Account) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b.mu.Lock() // want "deadlock"
	defer b.mu.Unlock()
	a.balance--
	b.balance++
}
