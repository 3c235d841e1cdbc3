package panicindex

import "testing"

func TestSquares(t *testing.T) {
	Squares(4)
}
