package pass

import (
	"sync"
	"testing"
)

func TestInc(t *testing.T) {
	var c Counter
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(c.Inc)
	}
	wg.Wait()
	if c.n != 8 {
		t.Errorf("n = %d, want 8", c.n)
	}
}
