// Package builderr does not compile.
package builderr

// Total refers to a name that does not exist.
func Total() int {
	return totl // want "build error"
}
