package resultsink

import "testing"

func TestSum(t *testing.T) {
	one := func() int { return 1 }
	if got := Sum([]func() int{one, one, one}); got != 3 {
		t.Errorf("Sum = %d, want 3", got)
	}
}
