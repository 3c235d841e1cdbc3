// Package session keeps the login sessions of a web application: a
// [Store] maps session tokens to users, and a session expires once it has
// not been used for the store's TTL.
//
// The store builds with github.com/sasha-s/go-deadlock, whose Mutex is a
// drop-in sync.Mutex that reports a goroutine locking a lock it already
// holds.
package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/sasha-s/go-deadlock"
)

// ErrNoSession is returned for a token that names no session, or a
// session that has expired.
var ErrNoSession = errors.New("session: no such session")

// A Session is one user's login.
type Session struct {
	User    string
	Expires time.Time // the session ends at this time unless it is used
}

// A Clock tells the time; sessions expire by it.
type Clock interface {
	Now() time.Time
}

// A Store holds sessions. Its methods may be called from many goroutines
// at once.
type Store struct {
	ttl      time.Duration
	clock    Clock
	newToken func() string // returns a token no session has had

	mu       deadlock.Mutex     // protects sessions
	sessions map[string]Session // by token
}

// New returns a store whose sessions expire once unused for ttl, by clock.
// Tokens come from newToken, which must return a new, unguessable token
// on every call.
func New(ttl time.Duration, clock Clock, newToken func() string) *Store {
	return &Store{ttl: ttl, clock: clock, newToken: newToken, sessions: make(map[string]Session)}
}

// Create starts a session for user and returns its token.
func (s *Store) Create(user string) string {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	token := s.newToken()
	s.sessions[token] = Session{User: user, Expires: now.Add(s.ttl)}
	return token
}

// Lookup returns the session of token, or ErrNoSession.
func (s *Store) Lookup(token string) (Session, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[token]
	if !ok || !now.Before(sess.Expires) {
		return Session{}, fmt.Errorf("%w: token %q", ErrNoSession, token)
	}
	return sess, nil
}

// Touch records a use of the session token: it expires TTL from now. It
// returns ErrNoSession if the session does not exist or has expired.
func (s *Store) Touch(token string) error {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touchLocked(token, now)
}

// touchLocked is Touch at the time now, for a caller that holds s.mu.
func (s *Store) touchLocked(token string, now time.Time) error {
	sess, ok := s.sessions[token]
	if !ok || !now.Before(sess.Expires) {
		return fmt.Errorf("%w: token %q", ErrNoSession, token)
	}
	sess.Expires = now.Add(s.ttl)
	s.sessions[token] = sess
	return nil
}

// Refresh gives the session token a new token, as after a change of
// privileges, and returns it; the session then expires TTL from now. It
// is one step: the old token stops working at the moment the new one
// starts, with its new expiry. Refresh returns ErrNoSession if the
// session does not exist or has expired.
func (s *Store) Refresh(token string) (string, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[token]
	if !ok || !now.Before(sess.Expires) {
		return "", fmt.Errorf("%w: token %q", ErrNoSession, token)
	}
	next := s.newToken()
	delete(s.sessions, token)
	s.sessions[next] = sess
	// Extend the session while still holding s.mu, so that no other call
	// sees the new token with its old expiry; touchLocked, unlike Touch,
	// does not lock s.mu again (a sync.Mutex is not reentrant).
	if err := s.touchLocked(next, now); err != nil {
		return "", err
	}
	return next, nil
}

// End ends the session token, if it exists.
func (s *Store) End(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, token)
}
