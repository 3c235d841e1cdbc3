// Package bubbleleak abandons a sender after a timeout.
package bubbleleak

import "time"

// First waits a little for a slow answer and gives up.
func First(slow time.Duration) (int, bool) {
	results := make(chan int)
	go func() { // want "leak"
		time.Sleep(slow)
		results <- 42 // want "leak"
	}()
	select {
	case v := <-results:
		return v, true
	case <-time.After(time.Second):
		return 0, false
	}
}
