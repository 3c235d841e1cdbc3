package doctor

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

func lines(s string) []string { return strings.Split(s, "\n") }

// Every line of the user's file keeps its number, so every report points
// at the line the user sees.
func TestRewriteKeepsLines(t *testing.T) {
	src := `package store // the store

import (
	"sync"
	"testing"
)

type Cache struct {
	mu   sync.Mutex
	rw   sync.RWMutex
	wg   sync.WaitGroup
}

func TestGet(t *testing.T) {
	var c Cache
	c.mu.Lock()
}

func TestMain(m *testing.M) {}
func Testlower(t *testing.T) {}
func TestBench(b *testing.B) {}
func helper(t *testing.T) {}
`
	out, tests, err := rewrite("/m/store/store_test.go", []byte(src), "example.com/m", true, true)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	if len(tests) != 1 || tests[0].Name != "TestGet" || tests[0].Line != 14 {
		t.Errorf("tests = %+v, want only TestGet at line 14", tests)
	}
	in, o := lines(src), lines(got)
	if len(o) < len(in) {
		t.Fatalf("the rewrite lost lines:\n%s", got)
	}
	for i, want := range map[int]string{
		0:  `package store; import racelabdoctor_rt "example.com/m/racelabdoctor_rt" // the store`,
		8:  "\tmu   racelabdoctor_rt.Mutex",
		9:  "\trw   racelabdoctor_rt.RWMutex",
		10: "\twg   sync.WaitGroup",
		13: "func racelabDoctor_TestGet(t *testing.T) {",
		18: "func TestMain(m *testing.M) {}",
		19: "func Testlower(t *testing.T) {}",
	} {
		if o[i] != want {
			t.Errorf("line %d = %q, want %q", i+1, o[i], want)
		}
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "x.go", out, 0); err != nil {
		t.Errorf("the rewritten file does not parse: %v\n%s", err, got)
	}
}

func TestRewriteKeepsSyncImportUsed(t *testing.T) {
	src := "package a\n\nimport s \"sync\"\n\nvar mu s.Mutex\n"
	out, _, err := rewrite("/m/a/a.go", []byte(src), "example.com/m", true, false)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	if !strings.Contains(got, "var mu racelabdoctor_rt.Mutex\n") || !strings.HasSuffix(got, "\nvar _ s.Locker\n") {
		t.Errorf("an aliased sync that is only used for Mutex must stay imported and used:\n%s", got)
	}
}

func TestRewriteLeavesShadowedSyncAlone(t *testing.T) {
	src := "package a\n\nimport \"sync\"\n\nvar once sync.Once\n\nfunc f() {\n\ttype T struct{ Mutex int }\n\tsync := T{}\n\t_ = sync.Mutex\n}\n"
	out, _, err := rewrite("/m/a/a.go", []byte(src), "example.com/m", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		t.Errorf("a local variable named sync was rewritten:\n%s", out)
	}
}

func TestRewriteDotImportedTesting(t *testing.T) {
	src := "package a\n\nimport . \"testing\"\n\nfunc TestX(t *T) {}\n"
	_, tests, err := rewrite("/m/a/a_test.go", []byte(src), "example.com/m", false, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) != 1 {
		t.Errorf("tests = %+v, want TestX", tests)
	}
}

func TestWrappers(t *testing.T) {
	got := string(wrappers("store_test", "example.com/m", []testFunc{{Name: "TestA"}, {Name: "TestB"}}))
	for _, want := range []string{
		"package store_test\n",
		"racelabdoctor_rt \"example.com/m/racelabdoctor_rt\"",
		"func TestA(t *testing.T) { racelabdoctor_rt.Run(t, racelabDoctor_TestA) }\nfunc TestB(",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("wrappers lack %q:\n%s", want, got)
		}
	}
}
