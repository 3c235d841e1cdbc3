package checkout

import "testing"

func TestAnonymousCartRejected(t *testing.T) {
	if _, err := Total(Cart{Items: []string{"tea"}}, func(string) int { return 3 }); err == nil {
		t.Error("Total accepted a cart without a customer")
	}
}
