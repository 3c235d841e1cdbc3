package watchdog

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

// inBubble is the labs' watchdog pattern: a real-time timer outside the
// bubble prints every goroutine and panics with a kind tag.
func inBubble(t *testing.T, f func(t *testing.T)) {
	dog := time.AfterFunc(time.Second, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s is stuck; all goroutines:\n\n%s\n", t.Name(), buf)
		panic(fmt.Sprintf("deadlock: %s still running after 1s of real time", t.Name()))
	})
	defer dog.Stop()
	synctest.Test(t, f)
}

func TestGetDuringRefresh(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := &Cache{}
		go c.Refresh()
		time.Sleep(time.Millisecond)
		c.Get()
	})
}
