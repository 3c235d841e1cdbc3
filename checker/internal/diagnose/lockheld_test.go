package diagnose

import (
	"strings"
	"testing"
)

func TestHeldOnReturn(t *testing.T) {
	src := `package book

func (b *Book) Place(o Order) error {
	b.mu.Lock()
	if o.Price <= 0 {
		b.mu.Unlock()
		return errBad
	}
	if b.crosses(o) {
		return errCrossed
	}
	switch o.Side {
	case Buy:
		return nil
	default:
	}
	b.mu.Unlock()
	return nil
}

func (b *Book) Safe() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.x {
		return errX
	}
	return nil
}

func (b *Book) Read() int {
	b.rw.RLock()
	for i := range b.items {
		if i > 3 {
			return i
		}
	}
	b.rw.RUnlock()
	return 0
}

func (b *Book) Start() {
	go func() {
		b.mu.Lock()
		defer func() { b.mu.Unlock() }()
		return
	}()
}
`
	d := &diagnosis{lab: Lab{ID: "book", RelDir: "labs/book", Dir: "/r/labs/book", Files: []string{"book.go"},
		Source: map[string][]string{"book.go": strings.Split(src, "\n")}}}
	var got []string
	for _, s := range d.heldOnReturn() {
		got = append(got, short(s)+" "+s.Role)
	}
	want := []string{
		"book.go:10 returns here with b.mu still locked",
		"book.go:14 returns here with b.mu still locked",
		"book.go:34 returns here with b.rw still locked",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("heldOnReturn:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
