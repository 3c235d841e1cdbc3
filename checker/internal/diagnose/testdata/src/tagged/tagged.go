// Package tagged does its work one item at a time and too many at once.
package tagged

// Workers reports how many workers ran at once.
func Workers() int { return 1 }

// Processes reports how many processes ran at once.
func Processes() int { return 12 }
