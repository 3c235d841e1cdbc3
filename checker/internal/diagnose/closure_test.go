package diagnose

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitClosure(t *testing.T) {
	for fn, want := range map[string]struct {
		recv, name string
		path       []int
	}{
		"example.com/x/labs/hc.Tally.func1":                 {"", "Tally", []int{1}},
		"example.com/x/labs/fares.(*Search).Cheapest.func2": {"Search", "Cheapest", []int{2}},
		"hc.Tally.func1.3":                                  {"", "Tally", []int{1, 3}},
	} {
		recv, name, path, ok := splitClosure(fn)
		if !ok || recv != want.recv || name != want.name || !slices.Equal(path, want.path) {
			t.Errorf("splitClosure(%q) = %q %q %v %v", fn, recv, name, path, ok)
		}
	}
	for _, fn := range []string{"hc.Tally", "hc.Tally.gowrap1", "nopkg"} {
		if _, _, _, ok := splitClosure(fn); ok {
			t.Errorf("splitClosure(%q) is ok", fn)
		}
	}
}

func TestClosureStart(t *testing.T) {
	src := `package hc

type S struct{}

func (s *S) Run() {
	go func() {}()
	wg.Go(func() {
		go func() {}()
	})
	g.Go(
		func() error { return nil },
	)
}
`
	d := &diagnosis{lab: Lab{ID: "hc", RelDir: "labs/hc", Dir: "/r/labs/hc", Files: []string{"hc.go"},
		Source: map[string][]string{"hc.go": strings.Split(src, "\n")}}}
	for fn, line := range map[string]int{
		"m/labs/hc.(*S).Run.func1":   6,
		"m/labs/hc.(*S).Run.func2":   7,
		"m/labs/hc.(*S).Run.func2.1": 8,
		"m/labs/hc.(*S).Run.func3":   10,
	} {
		s, ok := d.closureStart(fn)
		if !ok || s.Line != line || s.File != "labs/hc/hc.go" || !s.InLab {
			t.Errorf("closureStart(%q) = %+v, %v; want labs/hc/hc.go:%d", fn, s, ok, line)
		}
	}
	if _, ok := d.closureStart("m/labs/hc.(*S).Run.func9"); ok {
		t.Error("a closure that does not exist was found")
	}
}
