// Package brokenbuild does not compile: the doctor reports it as a build
// error and diagnoses the other packages.
package brokenbuild

// A Line is one line of an order.
type Line struct {
	Price, Qty int
}

// Total sums an order's lines.
func Total(lines []Line) int {
	sum := 0
	for _, l := range lines {
		sum += l.Price * l.Qty
	}
	return summ // want "build error"
}
