package geoclient

import (
	"sync"
	"testing"
)

func TestRegionFromManyRequests(t *testing.T) {
	c := New("fra1")
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := c.Region(); r != "eu" {
				t.Errorf("Region = %q, want eu", r)
			}
		}()
	}
	wg.Wait()
}
