// Package geoip tells which country an IP address is in: a [Service]
// answers lookups from a [Database] that it loads the first time it is
// asked.
package geoip

import (
	"fmt"
	"sync"
)

// A Service looks up the countries of IP addresses. It loads its database
// on its first lookup, not before: loading takes seconds, and most of the
// processes that make a Service never look anything up.
//
// A Service must be made with [New]. Its methods may be called from many
// goroutines at once.
type Service struct {
	load func() (*Database, error) // loads the database; read-only

	mu sync.Mutex // protects db
	db *Database  // nil until a lookup has loaded it
}

// New returns a Service that loads its database with load when it is
// first asked to look something up. New does not call load.
func New(load func() (*Database, error)) *Service {
	return &Service{load: load}
}

// database returns the database, loading it if no lookup has yet.
func (s *Service) database() (*Database, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		db, err := s.load()
		if err != nil {
			return nil, err
		}
		s.db = db
	}
	return s.db, nil
}

// Lookup returns the ISO 3166 code of the country that ip is in, such as
// "NL" for "192.0.2.1", or an error wrapping [ErrNotFound] if the database
// does not know the address.
//
// The first call loads the database. Calls that arrive while it loads wait
// for it: the database is loaded once, however many goroutines look up
// their first address at the same time, and two loads never run at once.
// If loading fails, Lookup returns an error that wraps the loader's, and
// so do the calls that waited for that load; whether a later call loads
// again is left to the implementation.
func (s *Service) Lookup(ip string) (string, error) {
	db, err := s.database()
	if err != nil {
		return "", fmt.Errorf("geoip: load database: %w", err)
	}
	return db.Country(ip)
}
