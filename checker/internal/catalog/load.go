package catalog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The files that make up the catalog.
const (
	// OrderFile lists the lab ids in curriculum order, one a line, relative
	// to the repository root.
	OrderFile = "labs/curriculum.txt"
	// MetaFile is a lab's metadata, in labs/<id>/.
	MetaFile = "lab.yaml"
	// HintsFile is a lab's progressive hints, in labs/<id>/.
	HintsFile = "HINTS.md"
	// VariantsDir holds a lab's other fixes, in solutions/<id>/.
	VariantsDir = "testdata/variants"
)

// meta is lab.yaml as written. Unknown fields are errors, so a typo is
// caught instead of silently ignored.
type meta struct {
	Title      string         `yaml:"title"`
	Block      string         `yaml:"block"`
	Difficulty int            `yaml:"difficulty"`
	Minutes    int            `yaml:"minutes"`
	Pitfall    string         `yaml:"pitfall"`
	Python     string         `yaml:"python"`
	Study      string         `yaml:"study"`
	Summary    string         `yaml:"summary"`
	Points     int            `yaml:"points"`
	TestPoints map[string]int `yaml:"test_points"`
	Kinds      []string       `yaml:"kinds"`
	Files      []string       `yaml:"files"`
	Imports    []string       `yaml:"imports"`
}

// Load reads the catalog of the repository at root: the order in
// OrderFile, and each lab's metadata, hints and tests from its folder.
//
// The error is non-nil only when the order itself cannot be read. A lab
// whose folder or metadata is missing or wrong is still returned, in its
// place, with Err saying what is wrong and how to repair it, so that one
// broken lab affects that lab alone.
func Load(root string) (Catalog, error) {
	ids, err := ReadOrder(root)
	if err != nil {
		return nil, err
	}
	cat := make(Catalog, 0, len(ids))
	for _, id := range ids {
		cat = append(cat, LoadLab(root, id))
	}
	return cat, nil
}

// ReadOrder reads the lab ids of OrderFile: one a line, with blank lines
// and # comments ignored.
func ReadOrder(root string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(root, OrderFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing: it lists the labs in curriculum order; restore it with `git checkout -- %s`", OrderFile, OrderFile)
		}
		return nil, fmt.Errorf("read %s: %w", OrderFile, err)
	}
	var ids []string
	var errs []string
	seen := map[string]int{}
	for n, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case !validID(line):
			errs = append(errs, fmt.Sprintf("%s:%d: %q is not a lab id: one lowercase word, letters and digits only", OrderFile, n+1, line))
		case seen[line] > 0:
			errs = append(errs, fmt.Sprintf("%s:%d: %s is listed twice (first at line %d)", OrderFile, n+1, line, seen[line]))
		default:
			seen[line] = n + 1
			ids = append(ids, line)
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s lists no labs: add one lab id a line, in curriculum order", OrderFile)
	}
	return ids, nil
}

func validID(id string) bool {
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// LoadLab reads one lab from labs/<id>/. On any problem the returned lab
// has Err set; the fields that could be read are filled in all the same.
func LoadLab(root, id string) Lab {
	l := Lab{ID: id}
	dir := filepath.Join(root, l.Dir())
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		l.Err = fmt.Errorf("%s is missing: restore it with `git checkout -- %s`", l.Dir(), l.Dir())
		return l
	}
	var errs []string
	metaPath := path.Join(l.Dir(), MetaFile)
	data, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		errs = append(errs, fmt.Sprintf("%s is missing: restore it with `git checkout -- %s`", metaPath, metaPath))
	} else if m, err := decodeMeta(data); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", metaPath, err))
	} else {
		l.Title, l.Block, l.Difficulty, l.Minutes = m.Title, Block(m.Block), m.Difficulty, m.Minutes
		l.Pitfall, l.Python, l.Study, l.Summary, l.Points = m.Pitfall, m.Python, m.Study, m.Summary, m.Points
		l.Files, l.Imports, l.TestPoints = m.Files, m.Imports, m.TestPoints
		for _, k := range m.Kinds {
			l.Kinds = append(l.Kinds, Kind(k))
		}
		for _, p := range l.validate() {
			errs = append(errs, metaPath+": "+p)
		}
	}
	hintsPath := path.Join(l.Dir(), HintsFile)
	if data, err := os.ReadFile(filepath.Join(dir, HintsFile)); err != nil {
		errs = append(errs, fmt.Sprintf("%s is missing: restore it with `git checkout -- %s`", hintsPath, hintsPath))
	} else {
		l.Hints = ParseHints(data)
		if len(l.Hints) < 2 {
			errs = append(errs, fmt.Sprintf("%s: has %d hints; write at least two, each under a `## Hint N` heading, the last one nearly the answer", hintsPath, len(l.Hints)))
		}
	}
	// The tests are read from the solution's copy of the test files, which
	// is identical to the lab's as shipped (Check makes sure) and which
	// the learner does not edit: deleting or editing a test in the lab
	// neither removes it from what a fix must pass nor adds one.
	testDir := filepath.Join(root, l.SolutionDir())
	if _, err := os.Stat(testDir); err != nil {
		testDir = dir
	}
	tests, err := readTests(testDir)
	switch {
	case err != nil:
		errs = append(errs, err.Error())
	case len(tests) == 0:
		errs = append(errs, fmt.Sprintf("%s has no tests: restore them with `git checkout -- %s`", l.Dir(), l.Dir()))
	}
	l.Tests = tests
	if err == nil && len(tests) > 0 {
		for _, p := range l.validateTestPoints() {
			errs = append(errs, metaPath+": "+p)
		}
	}
	if len(errs) > 0 {
		l.Err = errors.New(strings.Join(errs, "\n"))
	}
	return l
}

func decodeMeta(data []byte) (meta, error) {
	var m meta
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
		msg = strings.ReplaceAll(msg, " in type catalog.meta", "")
		return m, errors.New(msg)
	}
	return m, nil
}

// validate checks one lab's metadata and returns each problem as
// "field: what is wrong", in the terms of lab.yaml.
func (l Lab) validate() []string {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !validID(l.ID) {
		add("id %q: must be one lowercase word, letters and digits only (the folder's name)", l.ID)
	}
	if l.Title == "" {
		add("title: missing; one line that names the system, not the bug")
	}
	if !slices.Contains(Blocks, l.Block) {
		add("block: %q is not a block; use one of %s", l.Block, quoteList(Blocks))
	}
	if l.Difficulty < 1 || l.Difficulty > 3 {
		add("difficulty: must be 1, 2 or 3 (got %d)", l.Difficulty)
	}
	if l.Minutes <= 0 {
		add("minutes: the estimated time to fix, a positive number (got %d)", l.Minutes)
	}
	if l.Points <= 0 {
		add("points: the credit for the lab, a positive number (got %d)", l.Points)
	}
	for _, f := range []struct{ name, value, what string }{
		{"pitfall", l.Pitfall, "the Go pitfall in a few words"},
		{"python", l.Python, "the Python idea the lab maps to"},
		{"summary", l.Summary, "what the learner's code does, one sentence"},
	} {
		if strings.TrimSpace(f.value) == "" {
			add("%s: missing; %s", f.name, f.what)
		}
	}
	if len(l.Kinds) == 0 {
		add("kinds: missing; the failure kinds the broken lab shows, from %s", quoteList(Kinds))
	}
	for _, k := range l.Kinds {
		if !slices.Contains(Kinds, k) {
			add("kinds: %q is not a kind; use %s", k, quoteList(Kinds))
		}
	}
	if len(l.Files) == 0 {
		add("files: missing; the files a learner edits, such as %s.go", l.ID)
	}
	for _, f := range l.Files {
		if strings.ContainsAny(f, `/\`) || !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") {
			add("files: %q must be a non-test .go file in the lab's folder", f)
		}
	}
	return errs
}

// validateTestPoints checks how the lab's points split over its tests:
// every test named is one of the lab's, every test has its points (0 or
// more), and they add up to the lab's.
func (l Lab) validateTestPoints() []string {
	if l.TestPoints == nil {
		return nil
	}
	var errs []string
	sum := 0
	for _, name := range slices.Sorted(maps.Keys(l.TestPoints)) {
		p := l.TestPoints[name]
		switch {
		case !slices.Contains(l.Tests, name):
			errs = append(errs, fmt.Sprintf("test_points: %s is not a test of the lab; its tests are %s", name, strings.Join(l.Tests, ", ")))
		case p < 0:
			errs = append(errs, fmt.Sprintf("test_points: %s: %d points; give 0 or more", name, p))
		}
		sum += p
	}
	for _, name := range l.Tests {
		if _, ok := l.TestPoints[name]; !ok {
			errs = append(errs, fmt.Sprintf("test_points: %s has no points; give every test its points (0 is allowed), or remove test_points for all or nothing", name))
		}
	}
	if sum != l.Points {
		errs = append(errs, fmt.Sprintf("test_points: add up to %d; points is %d: make them equal", sum, l.Points))
	}
	return errs
}

func quoteList[T ~string](xs []T) string {
	var q []string
	for _, x := range xs {
		q = append(q, fmt.Sprintf("%q", x))
	}
	return strings.Join(q, ", ")
}

// ParseHints reads HINTS.md: each hint is the text under a second-level
// heading ("## Hint 1"), in order; paragraphs are joined into single lines
// so the terminal can wrap them to its width.
func ParseHints(data []byte) []string {
	var hints []string
	var cur []string
	in := false
	flush := func() {
		if in {
			hints = append(hints, reflow(cur))
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			flush()
			in = true
			continue
		}
		if in {
			cur = append(cur, line)
		}
	}
	flush()
	return slices.DeleteFunc(hints, func(h string) bool { return h == "" })
}

// reflow joins the lines of each paragraph; paragraphs stay apart, and
// code blocks and list items keep their lines.
func reflow(lines []string) string {
	var paras []string
	var cur []string
	code := false
	flush := func() {
		if len(cur) > 0 {
			paras = append(paras, strings.Join(cur, " "))
			cur = nil
		}
	}
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "```"):
			flush()
			code = !code
			paras = append(paras, l)
		case code:
			paras = append(paras, l)
		case t == "":
			flush()
			paras = append(paras, "")
		case strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* "):
			flush()
			cur = append(cur, t)
		default:
			cur = append(cur, t)
		}
	}
	flush()
	return strings.TrimSpace(strings.Join(compactBlank(paras), "\n"))
}

func compactBlank(lines []string) []string {
	var out []string
	for i, l := range lines {
		if l == "" && (i == 0 || lines[i-1] == "") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// readTests lists the top-level tests of the package in dir, file by file
// in name order and in source order within a file: go test's order.
func readTests(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var tests []string
	for _, f := range files {
		info, err := ParseFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s does not parse: %v", f, err)
		}
		tests = append(tests, info.Tests...)
	}
	return tests, nil
}
