// Package registry maps names to handlers; plugins register themselves.
//
// Its tests have a TestMain, which the doctor leaves alone. The bug:
// Register writes a plain map, and plugins register concurrently.
package registry

// A Handler handles a request.
type Handler func(string) string

var handlers = map[string]Handler{}

// Register adds a handler.
func Register(name string, h Handler) {
	handlers[name] = h // want "race"
}

// Lookup returns the handler registered under name.
func Lookup(name string) Handler { return handlers[name] }
