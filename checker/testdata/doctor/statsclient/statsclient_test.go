package statsclient

import (
	"sync"
	"testing"
)

// TestSendToCollector needs a collector listening on 127.0.0.1:1, which
// there is not.
func TestSendToCollector(t *testing.T) {
	c := &Client{Addr: "127.0.0.1:1"}
	if err := c.Send("requests:1|c"); err != nil {
		t.Fatalf("send: %v", err) // want "wrong result"
	}
}

func TestCountConcurrently(t *testing.T) {
	c := &Client{}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Count()
		}()
	}
	wg.Wait()
}
