package inventory

import (
	"sync"
	"testing"
)

func TestReserveWhileRestocking(t *testing.T) {
	w := New()
	it := &Item{}
	w.Restock(it, "sku-1", 10)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			w.Reserve("sku-1", 1)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			w.Restock(it, "sku-1", 1)
		}
	}()
	wg.Wait()
	if it.Count() < 0 {
		t.Errorf("negative stock %d", it.Count())
	}
}
