// Package veterr passes a string to %d.
package veterr

import "fmt"

// Label formats a count.
func Label(name string) string {
	return fmt.Sprintf("%d items", name) // want "vet error"
}
