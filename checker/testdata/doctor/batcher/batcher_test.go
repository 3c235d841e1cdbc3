package batcher

import "testing"

func TestProcessSkipsBlanks(t *testing.T) {
	n := Process([]string{"a", "", "b"}, func(string) error { return nil })
	if n != 2 {
		t.Errorf("Process = %d, want 2", n)
	}
}
