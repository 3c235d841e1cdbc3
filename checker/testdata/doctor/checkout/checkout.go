// Package checkout prices a cart.
//
// Saioc et al., "an early return before receiving": the total is
// computed in a goroutine, and an error path returns before reading it.
package checkout

import "errors"

// A Cart is a customer's items, by SKU.
type Cart struct {
	Customer string
	Items    []string
}

// Total prices every item and returns the sum.
func Total(cart Cart, price func(string) int) (int, error) {
	totals := make(chan int)
	go func() {
		sum := 0
		for _, it := range cart.Items {
			sum += price(it)
		}
		totals <- sum // want "leak"
	}()
	if cart.Customer == "" {
		return 0, errors.New("checkout: no customer")
	}
	return <-totals, nil
}
