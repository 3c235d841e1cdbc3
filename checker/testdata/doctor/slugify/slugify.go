// Package slugify turns titles into URL slugs.
//
// Chabbi and Ramanathan, t.Parallel table tests: the package keeps an
// unguarded counter, and the table test's parallel subtests call it at
// once. Parallel subtests run at once only up to -test.parallel, which
// defaults to GOMAXPROCS: the race shows at GOMAXPROCS 2 and more, not 1.
package slugify

import "strings"

// Calls counts slugs made, for the stats page.
var calls int

// Slug lowercases title and joins its words with dashes.
func Slug(title string) string {
	calls++ // want "race"
	return strings.Join(strings.Fields(strings.ToLower(title)), "-")
}
