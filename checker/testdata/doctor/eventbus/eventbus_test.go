package eventbus

import "testing"

func TestCloseWaitsForEvents(t *testing.T) {
	b := New(func(string) {})
	b.Publish("a")
	b.Publish("b")
	if n := b.Close(); n != 2 {
		t.Errorf("Close = %d, want 2", n)
	}
}
