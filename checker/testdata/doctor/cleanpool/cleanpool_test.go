package cleanpool

import "testing"

func TestMap(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		got := Map([]int{1, 2, 3, 4}, n, func(x int) int { return x * x })
		for i, want := range []int{1, 4, 9, 16} {
			if got[i] != want {
				t.Errorf("n=%d: Map[%d] = %d, want %d", n, i, got[i], want)
			}
		}
	}
}
