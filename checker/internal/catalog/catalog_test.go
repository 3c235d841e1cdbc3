package catalog

import (
	"slices"
	"strings"
	"testing"
)

func TestLabsAgreeWithTheFolders(t *testing.T) {
	for _, p := range Labs.Check("../../..") {
		t.Error(p)
	}
}

func TestValidate(t *testing.T) {
	good := Labs[0]
	for _, c := range []struct {
		name string
		edit func(*Lab)
		want string
	}{
		{"id with a dash", func(l *Lab) { l.ID = "hit-counter" }, "lowercase word"},
		{"unknown block", func(l *Lab) { l.Block = "misc" }, "unknown block"},
		{"one hint", func(l *Lab) { l.Hints = l.Hints[:1] }, "two hints"},
		{"no kinds", func(l *Lab) { l.Kinds = nil }, "no failure kinds"},
		{"unknown kind", func(l *Lab) { l.Kinds = []Kind{"flaky"} }, `unknown kind "flaky"`},
		{"test file editable", func(l *Lab) { l.Files = []string{"x_test.go"} }, "non-test .go file"},
	} {
		l := good
		l.Hints, l.Kinds, l.Files = slices.Clone(good.Hints), slices.Clone(good.Kinds), slices.Clone(good.Files)
		c.edit(&l)
		err := Catalog{l}.validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if err := (Catalog{Labs[2], Labs[0]}).validate(); err == nil || !strings.Contains(err.Error(), "curriculum order") {
		t.Errorf("blocks out of order: got %v", err)
	}
	if err := (Catalog{Labs[0], Labs[0]}).validate(); err == nil || !strings.Contains(err.Error(), "duplicate id") {
		t.Errorf("duplicate: got %v", err)
	}
}

func TestClosest(t *testing.T) {
	for in, want := range map[string]string{"hitcountr": "hitcounter", "bnak": "bank", "farm": "renderfarm", "FARES": "fares"} {
		if got := Labs.Closest(in, 3); len(got) == 0 || got[0] != want {
			t.Errorf("Closest(%q) = %v, want %s first", in, got, want)
		}
	}
	if got := Labs.Closest("zzzzzzzzzzzz", 3); len(got) != 0 {
		t.Errorf("Closest(nonsense) = %v, want nothing", got)
	}
}

func TestMayImport(t *testing.T) {
	bank, _ := Labs.Lookup("bank")
	for path, want := range map[string]bool{
		"sync": true, "github.com/sasha-s/go-deadlock": true,
		"os": false, "syscall": false, "unsafe": false, "reflect": false, "runtime": false, "testing": false, "flag": false,
	} {
		if got := bank.MayImport(path); got != want {
			t.Errorf("bank.MayImport(%q) = %v, want %v", path, got, want)
		}
	}
}
