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

	once sync.Once // guards db and err
	db   *Database
	err  error
}

// New returns a Service that loads its database with load when it is
// first asked to look something up. New does not call load.
func New(load func() (*Database, error)) *Service {
	s := &Service{load: load}
	go s.once.Do(s.loadDatabase) // warm up
	return s
}

func (s *Service) loadDatabase() { s.db, s.err = s.load() }

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
	s.once.Do(s.loadDatabase)
	if s.err != nil {
		return "", fmt.Errorf("geoip: load database: %w", s.err)
	}
	return s.db.Country(ip)
}
