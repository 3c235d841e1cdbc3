package barrier

import (
	"sync"
	"testing"
)

func TestThreeArrive(t *testing.T) {
	b := New(3)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Await()
		}()
	}
	wg.Wait()
}
