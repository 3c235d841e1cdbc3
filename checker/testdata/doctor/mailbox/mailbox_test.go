package mailbox

import "testing"

func TestLateSenderAfterClose(t *testing.T) {
	m := New(4)
	m.Send("hello")
	m.Close()
	m.Send("too late")
	if got := m.Drain(); len(got) != 1 {
		t.Errorf("Drain = %v", got)
	}
}
