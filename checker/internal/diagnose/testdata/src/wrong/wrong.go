// Package wrong adds badly.
package wrong

// Add returns the wrong sum.
func Add(a, b int) int { return a - b }
