package ledger

import "testing"

func TestTransferBothWays(t *testing.T) {
	a, b := NewAccount("a", 100), NewAccount("b", 100)
	if err := Transfer(a, b, 30); err != nil {
		t.Fatal(err)
	}
	if err := Transfer(b, a, 10); err != nil {
		t.Fatal(err)
	}
	if a.Balance() != 80 || b.Balance() != 120 {
		t.Errorf("balances %d and %d, want 80 and 120", a.Balance(), b.Balance())
	}
}

func TestInsufficientFunds(t *testing.T) {
	a, b := NewAccount("a", 5), NewAccount("b", 0)
	if err := Transfer(a, b, 10); err != ErrInsufficient {
		t.Errorf("Transfer = %v, want ErrInsufficient", err)
	}
}
