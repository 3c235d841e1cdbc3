package catalog

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/racelab/racelab/checker/internal/fsutil"
)

const repo = "../../.."

func load(t *testing.T) Catalog {
	t.Helper()
	cat, err := Load(repo)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestLabsAgreeWithTheFolders(t *testing.T) {
	cat := load(t)
	for _, p := range cat.Check(repo) {
		t.Error(p)
	}
	if len(cat) < 4 {
		t.Fatalf("the catalog has %d labs", len(cat))
	}
	for _, l := range cat {
		if l.Err != nil {
			t.Errorf("%s: %v", l.ID, l.Err)
		}
	}
}

func TestLoadReadsEverything(t *testing.T) {
	bank, ok := load(t).Lookup("bank")
	if !ok {
		t.Fatal("no bank lab")
	}
	switch {
	case bank.Title == "" || bank.Summary == "" || bank.Python == "" || bank.Pitfall == "":
		t.Errorf("text fields not read: %+v", bank)
	case bank.Block != Locks || bank.Difficulty != 2 || bank.Points <= 0 || bank.Minutes <= 0:
		t.Errorf("numbers or block not read: %+v", bank)
	case !slices.Equal(bank.Kinds, []Kind{Deadlock}) || !slices.Equal(bank.Files, []string{"bank.go"}):
		t.Errorf("kinds or files not read: %v %v", bank.Kinds, bank.Files)
	case !bank.MayImport("github.com/sasha-s/go-deadlock"):
		t.Errorf("imports not read: %v", bank.Imports)
	case len(bank.Hints) < 2 || strings.Contains(bank.Hints[0], "\n## "):
		t.Errorf("hints not split: %q", bank.Hints)
	case !slices.Contains(bank.Tests, "TestTransfer") || slices.Contains(bank.Tests, "TestMain"):
		t.Errorf("tests not derived from the test files: %v", bank.Tests)
	}
}

func TestParseHints(t *testing.T) {
	got := ParseHints([]byte("# Hints: x\n\nIntro, not a hint.\n\n## Hint 1\n\nFirst line\ncontinues here.\n\nSecond paragraph.\n\n## Hint 2\n\n```go\nmu.Lock()\n```\n- a\n- b\n\n## Empty\n\n"))
	want := []string{"First line continues here.\n\nSecond paragraph.", "```go\nmu.Lock()\n```\n- a\n- b"}
	if !slices.Equal(got, want) {
		t.Errorf("ParseHints = %q, want %q", got, want)
	}
}

// scratch copies the repository's labs and solutions to a temporary
// directory, for tests that break them.
func scratch(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	if err := fsutil.CopyPaths(repo, dst, "go.mod", "labs", "solutions"); err != nil {
		t.Fatal(err)
	}
	return dst
}

func write(t *testing.T, root, rel, text string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func problems(cat Catalog, root string) string {
	var lines []string
	for _, p := range cat.Check(root) {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

// TestAddingALab adds a lab the way a maintainer does, one step at a time,
// and checks that each step's missing pieces are named by file and field;
// the finished lab needs no change to the checker's code.
func TestAddingALab(t *testing.T) {
	root := scratch(t)
	order, _ := os.ReadFile(filepath.Join(root, OrderFile))
	write(t, root, OrderFile, string(order)+"parking\n")

	// Step 1: only the line in the order.
	cat, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	lab, _ := cat.Lookup("parking")
	if lab.Err == nil || !strings.Contains(lab.Err.Error(), "labs/parking is missing") {
		t.Fatalf("a lab with no folder: Err = %v", lab.Err)
	}

	// Step 2: folders with a little in them.
	write(t, root, "labs/parking/lab.yaml", "title: Parking garage\nblock: locks\ndifficulty: 5\nkinds: [flaky]\nfiles: [parking.go]\ncolour: blue\n")
	write(t, root, "labs/parking/parking.go", "package parking\n\nfunc Park() {}\n")
	write(t, root, "solutions/parking/parking.go", "package parking\n\nfunc Park() {}\n")
	cat, _ = Load(root)
	got := problems(cat, root)
	for _, want := range []string{
		`labs/parking/lab.yaml: line 6: field colour not found`,
		"labs/parking/HINTS.md is missing",
		"labs/parking has no tests",
		"labs/parking has no README.md",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("step 2: problems do not say %q:\n%s", want, got)
		}
	}

	// Step 3: metadata that parses but is incomplete.
	write(t, root, "labs/parking/lab.yaml", "title: Parking garage\nblock: lockz\ndifficulty: 5\nkinds: [flaky]\nfiles: [parking.go]\n")
	write(t, root, "labs/parking/HINTS.md", "# Hints\n\n## Hint 1\n\nOnly one.\n")
	write(t, root, "labs/parking/parking_test.go", "package parking\n\nimport \"testing\"\n\nfunc TestPark(t *testing.T) { Park() }\n")
	write(t, root, "solutions/parking/parking_test.go", "package parking\n\nimport \"testing\"\n\nfunc TestPark(t *testing.T) { Park() }\n")
	cat, _ = Load(root)
	got = problems(cat, root)
	for _, want := range []string{
		`labs/parking/lab.yaml: block: "lockz" is not a block`,
		"labs/parking/lab.yaml: difficulty: must be 1, 2 or 3 (got 5)",
		"labs/parking/lab.yaml: minutes:",
		"labs/parking/lab.yaml: points:",
		"labs/parking/lab.yaml: python: missing",
		"labs/parking/lab.yaml: pitfall: missing",
		"labs/parking/lab.yaml: summary: missing",
		`labs/parking/lab.yaml: kinds: "flaky" is not a kind`,
		"labs/parking/HINTS.md: has 1 hints; write at least two",
		"no `// TODO:` in parking.go",
		"labs/parking has no README.md",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("step 3: problems do not say %q:\n%s", want, got)
		}
	}

	// Step 4: complete. Nothing else in the repository changed.
	write(t, root, "labs/parking/lab.yaml", "title: Parking garage\nblock: processes\ndifficulty: 1\nminutes: 5\npitfall: none\npython: x\nsummary: y\npoints: 5\nkinds: [race]\nfiles: [parking.go]\n")
	write(t, root, "labs/parking/HINTS.md", "## Hint 1\n\nOne.\n\n## Hint 2\n\nTwo.\n")
	write(t, root, "labs/parking/README.md", "# parking\n")
	write(t, root, "labs/parking/parking.go", "package parking\n\n// TODO: park\nfunc Park() {}\n")
	cat, _ = Load(root)
	if got := problems(cat, root); got != "" {
		t.Errorf("a complete lab still has problems:\n%s", got)
	}
	lab, _ = cat.Lookup("parking")
	if lab.Err != nil || !slices.Equal(lab.Tests, []string{"TestPark"}) || cat[len(cat)-1].ID != "parking" {
		t.Errorf("the new lab did not load: %+v", lab)
	}
}

func TestOrderProblems(t *testing.T) {
	root := scratch(t)
	write(t, root, OrderFile, "hitcounter\nHit-Counter\nhitcounter\n")
	if _, err := Load(root); err == nil || !strings.Contains(err.Error(), `labs/curriculum.txt:2: "Hit-Counter" is not a lab id`) ||
		!strings.Contains(err.Error(), "labs/curriculum.txt:3: hitcounter is listed twice") {
		t.Errorf("bad order file: %v", err)
	}
	write(t, root, OrderFile, "# nothing\n")
	if _, err := Load(root); err == nil || !strings.Contains(err.Error(), "lists no labs") {
		t.Errorf("empty order file: %v", err)
	}
	os.Remove(filepath.Join(root, OrderFile))
	if _, err := Load(root); err == nil || !strings.Contains(err.Error(), "git checkout -- labs/curriculum.txt") {
		t.Errorf("missing order file: %v", err)
	}

	// A folder missing from the order, and blocks out of order.
	root = scratch(t)
	write(t, root, OrderFile, "bank\nhitcounter\nrenderfarm\n")
	cat, _ := Load(root)
	got := problems(cat, root)
	for _, want := range []string{"labs/fares is not in the curriculum: add its id to labs/curriculum.txt", "solutions/fares is not in the curriculum", `hitcounter (block "shared state") comes after a lab of block "locks"`} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not say %q:\n%s", want, got)
		}
	}
}

func TestOneBrokenLabAffectsItAlone(t *testing.T) {
	root := scratch(t)
	if err := os.RemoveAll(filepath.Join(root, "labs/fares")); err != nil {
		t.Fatal(err)
	}
	cat, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cat {
		switch {
		case l.ID == "fares" && (l.Err == nil || !strings.Contains(l.Err.Error(), "restore it with `git checkout -- labs/fares`")):
			t.Errorf("fares: Err = %v", l.Err)
		case l.ID != "fares" && l.Err != nil:
			t.Errorf("%s broke with fares: %v", l.ID, l.Err)
		}
	}
}

func TestClosest(t *testing.T) {
	cat := load(t)
	for in, want := range map[string]string{"hitcountr": "hitcounter", "bnak": "bank", "renderfrm": "renderfarm", "FARES": "fares"} {
		if got := cat.Closest(in, 3); len(got) == 0 || got[0] != want {
			t.Errorf("Closest(%q) = %v, want %s first", in, got, want)
		}
	}
	if got := cat.Closest("zzzzzzzzzzzz", 3); len(got) != 0 {
		t.Errorf("Closest(nonsense) = %v, want nothing", got)
	}
}

func TestMayImport(t *testing.T) {
	bank, _ := load(t).Lookup("bank")
	for path, want := range map[string]bool{
		"sync": true, "github.com/sasha-s/go-deadlock": true,
		"os": false, "syscall": false, "unsafe": false, "reflect": false, "runtime": false, "testing": false, "flag": false,
	} {
		if got := bank.MayImport(path); got != want {
			t.Errorf("bank.MayImport(%q) = %v, want %v", path, got, want)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the generated documentation (make docs)")

// TestDocsAreCurrent keeps the README's lab table and docs/curriculum.md
// in step with the catalog. `make docs` rewrites them.
func TestDocsAreCurrent(t *testing.T) {
	cat := load(t)
	readme, err := os.ReadFile(filepath.Join(repo, ReadmeFile))
	if err != nil {
		t.Fatal(err)
	}
	wantReadme, ok := ReplaceBetween(string(readme), ReadmeBegin, ReadmeEnd, cat.ReadmeTable())
	if !ok {
		t.Fatalf("%s has no lab table between %q and %q", ReadmeFile, ReadmeBegin, ReadmeEnd)
	}
	files := map[string]string{ReadmeFile: wantReadme, CurriculumFile: cat.CurriculumPage()}
	for name, want := range files {
		p := filepath.Join(repo, name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, _ := os.ReadFile(p)
		if string(got) != want {
			t.Errorf("%s is out of date with the catalog: run `make docs`", name)
		}
	}
}

// TestTestPoints: lab.yaml's test_points splits a lab's points over its
// tests; a split that names a test the lab lacks, leaves one out, or
// adds up to other than points is a problem that says how to fix it.
func TestTestPoints(t *testing.T) {
	root := scratch(t)
	base, err := os.ReadFile(filepath.Join(root, "labs/hitcounter/lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lab := LoadLab(root, "hitcounter")
	if lab.Err != nil || lab.TestPoints != nil || len(lab.Tests) < 2 {
		t.Fatalf("hitcounter as shipped: %v, test_points %v, %d tests; want all or nothing and several tests", lab.Err, lab.TestPoints, len(lab.Tests))
	}
	split := func(points map[string]int) string {
		var b strings.Builder
		b.WriteString("test_points:\n")
		for name, p := range points {
			fmt.Fprintf(&b, "  %s: %d\n", name, p)
		}
		return b.String()
	}
	even := map[string]int{}
	for i, name := range lab.Tests {
		even[name] = 0
		if i < lab.Points {
			even[name] = 1
		}
	}
	even[lab.Tests[0]] += lab.Points - min(lab.Points, len(lab.Tests))
	write(t, root, "labs/hitcounter/lab.yaml", string(base)+split(even))
	if l := LoadLab(root, "hitcounter"); l.Err != nil || !maps.Equal(l.TestPoints, even) {
		t.Errorf("a good split: %v, %v; want it loaded as %v", l.Err, l.TestPoints, even)
	}
	bad := maps.Clone(even)
	delete(bad, lab.Tests[1])
	bad["TestNoSuch"] = 1
	bad[lab.Tests[0]] += 5
	write(t, root, "labs/hitcounter/lab.yaml", string(base)+split(bad))
	l := LoadLab(root, "hitcounter")
	for _, want := range []string{
		"test_points: TestNoSuch is not a test of the lab",
		"test_points: " + lab.Tests[1] + " has no points",
		fmt.Sprintf("test_points: add up to %d; points is %d", lab.Points+5+1-even[lab.Tests[1]], lab.Points),
	} {
		if l.Err == nil || !strings.Contains(l.Err.Error(), want) {
			t.Errorf("a bad split: %v; want a problem containing %q", l.Err, want)
		}
	}
}
