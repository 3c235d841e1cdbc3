package lockorder

import (
	"bytes"
	"sync"
	"testing"

	"github.com/sasha-s/go-deadlock"
)

var (
	mu      sync.Mutex // protects reports and buf
	reports []string
	buf     bytes.Buffer
)

func init() {
	deadlock.Opts.LogBuf = &buf
	deadlock.Opts.OnPotentialDeadlock = func() {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, buf.String())
		buf.Reset()
	}
}

func TestTransferBothWays(t *testing.T) {
	a, b := &Account{}, &Account{}
	Transfer(a, b)
	Transfer(b, a)
	mu.Lock()
	defer mu.Unlock()
	for _, r := range reports {
		t.Errorf("deadlock: %s", r)
	}
}
