package closeclosed

import "testing"

func TestStopTwice(t *testing.T) {
	done := make(chan struct{})
	Stop(done)
	Stop(done)
}
