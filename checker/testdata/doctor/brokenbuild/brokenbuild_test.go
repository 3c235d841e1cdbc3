package brokenbuild

import "testing"

func TestTotal(t *testing.T) {
	if got := Total([]Line{{2, 3}}); got != 6 {
		t.Errorf("Total = %d, want 6", got)
	}
}
