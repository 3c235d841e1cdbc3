package connpool

import (
	"context"
	"errors"
	"testing"
)

func TestBrokenConnectionIsReplaced(t *testing.T) {
	n := 0
	up := true
	p, err := New(1, func() (*Conn, error) {
		if !up {
			return nil, ErrDown
		}
		n++
		return &Conn{ID: n}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := p.Get(context.Background())
	up = false
	p.Put(c, errors.New("connection reset"))
	up = true
	if c, err := p.Get(context.Background()); err != nil || c == nil {
		t.Fatalf("Get = %v, %v", c, err)
	}
}
