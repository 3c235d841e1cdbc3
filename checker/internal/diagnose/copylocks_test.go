package diagnose

import (
	"strings"
	"testing"
)

func TestCopiedLocks(t *testing.T) {
	src := `package inv

import "sync"

type inner struct{ mu sync.RWMutex }

type Stock struct {
	in    inner
	items map[string]int
}

type Safe struct {
	mu *sync.Mutex
}

func (s Stock) Add(k string) {}

func (s *Stock) Remove(k string) {}

func (s Safe) Get() {}

func New() Stock { return Stock{} }

func Use(s Stock, p *Stock, list []Stock) {}
`
	d := &diagnosis{lab: Lab{ID: "inv", RelDir: "labs/inv", Dir: "/r/labs/inv", Files: []string{"inv.go"},
		Source: map[string][]string{"inv.go": strings.Split(src, "\n")}}}
	var got []string
	for _, s := range d.copiedLocks() {
		got = append(got, short(s)+" "+s.Role)
	}
	want := []string{
		"inv.go:16 Add has a value receiver: each call locks a copy of the mutex",
		"inv.go:22 New returns a value holding a mutex: the caller gets a copy",
		"inv.go:24 Use takes a value holding a mutex: the callee locks a copy",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("copiedLocks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
