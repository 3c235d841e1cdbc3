package bubbledeadlock

import (
	"testing"
	"testing/synctest"
)

func TestAsk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		Ask()
	})
}
