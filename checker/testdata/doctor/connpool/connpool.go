// Package connpool lends a fixed number of connections.
//
// Tu et al., blocking, select: a failed connection whose replacement
// cannot be dialed is dropped, the pool shrinks, and Get with a context
// that never ends waits in a select no case of which will ever be ready.
package connpool

import (
	"context"
	"errors"
)

// A Conn is a connection to the backend.
type Conn struct{ ID int }

// A Pool lends connections.
type Pool struct {
	idle chan *Conn
	dial func() (*Conn, error)
}

// New dials size connections.
func New(size int, dial func() (*Conn, error)) (*Pool, error) {
	p := &Pool{idle: make(chan *Conn, size), dial: dial}
	for i := 0; i < size; i++ {
		c, err := dial()
		if err != nil {
			return nil, err
		}
		p.idle <- c
	}
	return p, nil
}

// Get waits for an idle connection, or for ctx to end.
func (p *Pool) Get(ctx context.Context) (*Conn, error) {
	select { // want "deadlock: select with no ready case"
	case c := <-p.idle:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Put returns c. A connection that failed (err != nil) is replaced.
func (p *Pool) Put(c *Conn, err error) {
	if err != nil {
		if nc, derr := p.dial(); derr == nil {
			p.idle <- nc
		}
		return
	}
	p.idle <- c
}

// ErrDown is what dialing returns while the backend is down.
var ErrDown = errors.New("connpool: backend down")
