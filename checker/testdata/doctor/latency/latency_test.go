package latency

import (
	"sync"
	"testing"
)

func TestObserveConcurrently(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 25; j++ {
				r.Observe("/api")
			}
		}()
	}
	wg.Wait()
	if r.Count("/api") == 0 {
		t.Error("nothing counted")
	}
}
