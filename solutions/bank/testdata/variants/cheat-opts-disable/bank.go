// Package bank moves money between accounts. Every account has its own
// lock, so transfers between different accounts run in parallel, and a
// [Ledger] journals each transfer while both of its accounts are locked.
//
// The bank builds with github.com/sasha-s/go-deadlock, whose Mutex is a
// drop-in sync.Mutex that reports locks taken in an order that can
// deadlock, even on runs where the timing was lucky.
package bank

import (
	"errors"
	"fmt"

	"github.com/sasha-s/go-deadlock"
)

func init() {
	// go-deadlock's checks cost time on every Lock: production runs
	// without them.
	deadlock.Opts.Disable = true
}

// ErrInsufficientFunds is returned by [Bank.Transfer] when the source
// account holds less than the amount.
var ErrInsufficientFunds = errors.New("bank: insufficient funds")

// A Ledger journals transfers.
type Ledger interface {
	// Record journals a transfer. The bank calls it while it holds the
	// locks of both accounts, so the journal and the balances change
	// together; if Record fails, no money moves.
	Record(from, to string, amount int64) error
}

// An account holds one customer's money.
type account struct {
	id string

	mu      deadlock.Mutex // protects balance
	balance int64
}

// A Bank holds accounts and moves money between them. Its methods may be
// called from many goroutines at once.
type Bank struct {
	ledger   Ledger
	accounts map[string]*account // read-only after New
}

// New returns a bank that journals to ledger, with one account per entry
// of balances.
func New(ledger Ledger, balances map[string]int64) *Bank {
	b := &Bank{ledger: ledger, accounts: make(map[string]*account, len(balances))}
	for id, balance := range balances {
		b.accounts[id] = &account{id: id, balance: balance}
	}
	return b
}

// Balance returns the balance of the account id.
func (b *Bank) Balance(id string) (int64, error) {
	a, err := b.account(id)
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.balance, nil
}

// Transfer moves amount from the account from to the account to and
// journals it in the ledger. It changes nothing if the accounts are the
// same or do not exist, if amount is not positive, if the source holds
// less than amount, or if the ledger fails.
func (b *Bank) Transfer(from, to string, amount int64) error {
	if from == to {
		return fmt.Errorf("bank: transfer from %q to itself", from)
	}
	if amount <= 0 {
		return fmt.Errorf("bank: transfer amount %d must be positive", amount)
	}
	src, err := b.account(from)
	if err != nil {
		return err
	}
	dst, err := b.account(to)
	if err != nil {
		return err
	}

	src.mu.Lock()
	defer src.mu.Unlock()
	dst.mu.Lock()
	defer dst.mu.Unlock()

	if src.balance < amount {
		return fmt.Errorf("bank: %q holds %d, cannot send %d: %w", from, src.balance, amount, ErrInsufficientFunds)
	}
	if err := b.ledger.Record(from, to, amount); err != nil {
		return fmt.Errorf("bank: journal transfer: %w", err)
	}
	src.balance -= amount
	dst.balance += amount
	return nil
}

// account returns the account id.
func (b *Bank) account(id string) (*account, error) {
	a, ok := b.accounts[id]
	if !ok {
		return nil, fmt.Errorf("bank: no account %q", id)
	}
	return a, nil
}
