//racelab:record -timeout=2s

package timeoutloop

import (
	"sync/atomic"
	"testing"
)

func TestWait(t *testing.T) {
	var ready atomic.Bool
	Wait(&ready)
}
