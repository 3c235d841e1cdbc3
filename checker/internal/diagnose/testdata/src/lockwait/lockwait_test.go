package lockwait

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/sasha-s/go-deadlock"
)

func TestGetWhileSlowSet(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	var reports []string
	deadlock.Opts.LogBuf = &buf
	deadlock.Opts.DeadlockTimeout = 100 * time.Millisecond
	deadlock.Opts.OnPotentialDeadlock = func() {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, buf.String())
		buf.Reset()
	}
	s := &Store{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.SlowSet(1, 400*time.Millisecond)
	}()
	time.Sleep(20 * time.Millisecond)
	s.Get()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for _, r := range reports {
		t.Error(r)
	}
}
