package dispatcher

import "testing"

func TestSubmit(t *testing.T) {
	d := New(2)
	done := make(chan bool)
	d.Submit(func() { done <- true })
	<-done
}
