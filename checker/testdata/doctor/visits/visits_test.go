package visits

import (
	"sync"
	"testing"
)

func TestConcurrentViews(t *testing.T) {
	var tr Tracker
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.Record()
		}()
	}
	wg.Wait()
	if tr.Views() > 8 {
		t.Errorf("Views = %d, want at most 8", tr.Views())
	}
}
