// Package ledger moves money between accounts.
//
// Tu et al., blocking, Mutex: two locks taken in argument order, so that
// Transfer(a, b) and Transfer(b, a) take them in opposite orders (AB-BA).
// The tests run the two transfers one after the other: the run never
// hangs, and plain go test passes.
package ledger

import (
	"errors"
	"sync"
)

// ErrInsufficient is returned when the source account lacks the funds.
var ErrInsufficient = errors.New("ledger: insufficient funds")

// An Account is a balance guarded by its own lock.
type Account struct {
	ID      string
	mu      sync.Mutex // protects balance
	balance int64
}

// NewAccount returns an account holding balance.
func NewAccount(id string, balance int64) *Account {
	return &Account{ID: id, balance: balance}
}

// Balance returns the account's balance.
func (a *Account) Balance() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.balance
}

// Transfer moves amount from one account to another, atomically.
func Transfer(from, to *Account, amount int64) error {
	from.mu.Lock()
	defer from.mu.Unlock()
	to.mu.Lock() // want "deadlock: lock-order inversion"
	defer to.mu.Unlock()
	if from.balance < amount {
		return ErrInsufficient
	}
	from.balance -= amount
	to.balance += amount
	return nil
}
