//racelab:record -timeout=2s

package timeoutdeadlock

import (
	"sync"
	"testing"
)

func TestPublishTwice(t *testing.T) {
	h := &Hub{Subs: make(chan int)}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Publish(i)
		}()
	}
	wg.Wait()
}
