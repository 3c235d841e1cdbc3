package bubbleleak

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestFirstGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if _, ok := First(10 * time.Second); ok {
			t.Error("want a time-out")
		}
		time.Sleep(time.Minute)
	})
}
