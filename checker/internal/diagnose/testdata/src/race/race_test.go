package race

import "testing"

func TestCount(t *testing.T) {
	if got := Count(8); got > 8 {
		t.Errorf("Count(8) = %d", got)
	}
}
