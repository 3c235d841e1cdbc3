// Package sessions stores sessions by id.
//
// Chabbi and Ramanathan, maps: concurrent writes to a plain map.
package sessions

// A Store maps session ids to user names.
type Store struct {
	m map[string]string
}

// New returns an empty store.
func New() *Store { return &Store{m: map[string]string{}} }

// Put stores a session. Request handlers call it concurrently.
func (s *Store) Put(id, user string) {
	s.m[id] = user // want "race"
}
