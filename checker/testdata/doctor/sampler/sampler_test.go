package sampler

import (
	"sync"
	"testing"
)

func TestKeepConcurrently(t *testing.T) {
	s := New(1, 0.5)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				s.Keep()
			}
		}()
	}
	wg.Wait()
}
