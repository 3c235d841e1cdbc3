package reqlog

import (
	"sync"
	"testing"
)

func TestConcurrentLog(t *testing.T) {
	var l Logger
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Log("GET /")
		}()
	}
	wg.Wait()
	if l.String() == "" {
		t.Error("nothing logged")
	}
}
