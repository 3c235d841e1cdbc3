package sessions

import (
	"fmt"
	"sync"
	"testing"
)

func TestConcurrentLogins(t *testing.T) {
	s := New()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Put(fmt.Sprint("s", i), "user")
		}()
	}
	wg.Wait()
}
