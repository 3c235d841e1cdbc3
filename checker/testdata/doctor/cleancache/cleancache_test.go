package cleancache

import (
	"sync"
	"testing"
)

func TestMoveBothWays(t *testing.T) {
	c := New()
	a, b := c.Get("a"), c.Get("b")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			Move(a, b, 1)
		}()
		go func() {
			defer wg.Done()
			Move(b, a, 1)
		}()
	}
	wg.Wait()
	if a.Value()+b.Value() != 0 {
		t.Errorf("total %d, want 0", a.Value()+b.Value())
	}
}

func TestGetFromManyGoroutines(t *testing.T) {
	c := New()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Get("k")
		}()
	}
	wg.Wait()
}
