package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// (f) The doctor against plain go test over the doctor's corpus
// (checker/testdata/doctor): the wall time of one run of each, and how
// many of the corpus's annotated bugs each finds.
//
// A bug counts as found by the doctor when every one of its package's
// `// want` annotations is matched by a finding of the right kind (and
// sub-kind) at the right line, and the package has no other finding: what
// TestCorpus checks. Plain go test says neither kind nor line; a bug
// counts as found by it when its package fails and the output names the
// annotated file:line somewhere (often deep in a goroutine dump), which is
// generous to it.
func doctorRows(checker, repo string, env []string, runs int) ([]row, error) {
	corpus := filepath.Join(repo, "checker", "testdata", "doctor")
	wants, err := corpusWants(corpus)
	if err != nil {
		return nil, err
	}
	bugs := len(wants)
	progress := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }
	// Warm both sides' build caches, untimed: the doctor builds its test
	// binaries (and runs no test), go test compiles and vets everything.
	progress("(f) warming the corpus's builds")
	timeCmd(corpus, env, checker, "doctor", "-run", "^$", "./...")
	timeCmd(corpus, env, "go", "test", "-race", "-count=1", "-run", "^$", "./...")

	var rows []row
	var goTimes []time.Duration
	goFound, goFailed := 0, 0
	for i := range runs {
		progress("(f) go test -race -timeout 30s over the corpus, run %d of %d (hangs cost 30s each)", i+1, runs)
		start := time.Now()
		out, _ := command(corpus, env, "go", "test", "-race", "-count=1", "-timeout", "30s", "-json", "./...")
		goTimes = append(goTimes, time.Since(start))
		goFound, goFailed = goTestFound(out, wants)
	}
	rows = append(rows, row{"f. go test -race -timeout 30s ./... (doctor corpus)", goTimes,
		fmt.Sprintf("%d/%d bugs named (line in its output), %d packages fail; no kind", goFound, bugs, goFailed)})
	for _, flags := range [][]string{{}, {"-deadline", "2s", "-gomaxprocs", "1,2"}} {
		var times []time.Duration
		found := 0
		for i := range runs {
			progress("(f) checker doctor %s over the corpus, run %d of %d", strings.Join(flags, " "), i+1, runs)
			start := time.Now()
			out, _ := command(corpus, env, checker, append(append([]string{"doctor", "-json"}, flags...), "./...")...)
			times = append(times, time.Since(start))
			if found, err = doctorFound(out, wants); err != nil {
				return nil, err
			}
		}
		name := "f. checker doctor (defaults: deadline 5s, 1 run)"
		if len(flags) > 0 {
			name = "f. checker doctor " + strings.Join(flags, " ")
		}
		rows = append(rows, row{name, times, fmt.Sprintf("%d/%d bugs, right kind and line; ratio %.2f", found, bugs, ratio(median(times), median(goTimes)))})
	}
	return rows, nil
}

// command runs a command and returns its standard output.
func command(dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return out.Bytes(), err
}

type corpusWant struct {
	file        string // relative to the corpus root
	line        int
	kind, title string
}

var (
	wantLine  = regexp.MustCompile(`// want((?: "[^"]+")+)`)
	wantQuote = regexp.MustCompile(`"([^"]+)"`)
	kinds     = []string{"race", "deadlock", "leak", "panic", "timeout", "wrong result", "build error", "vet error"}
)

// corpusWants reads the annotations by package directory.
func corpusWants(corpus string) (map[string][]corpusWant, error) {
	files, err := filepath.Glob(filepath.Join(corpus, "*", "*.go"))
	if err != nil {
		return nil, err
	}
	out := map[string][]corpusWant{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(corpus, f)
		for i, l := range strings.Split(string(data), "\n") {
			m := wantLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			for _, q := range wantQuote.FindAllStringSubmatch(m[1], -1) {
				w := corpusWant{file: filepath.ToSlash(rel), line: i + 1, kind: q[1]}
				if k, t, ok := strings.Cut(q[1], ": "); ok && slices.Contains(kinds, k) {
					w.kind, w.title = k, t
				}
				pkg := filepath.Dir(rel)
				out[pkg] = append(out[pkg], w)
			}
		}
	}
	return out, nil
}

// doctorFound counts the packages whose wants the doctor's JSON document
// matches exactly, as TestCorpus does.
func doctorFound(out []byte, wants map[string][]corpusWant) (int, error) {
	var doc struct {
		Packages []struct {
			Dir      string
			Findings []struct {
				Kind, Title, File string
				Line              int
				Sites             []struct {
					File  string
					Line  int
					InLab bool `json:"in_lab"`
				}
			}
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return 0, fmt.Errorf("read the doctor's JSON: %w", err)
	}
	found := 0
	for _, p := range doc.Packages {
		ws := wants[p.Dir]
		if len(ws) == 0 {
			continue
		}
		fits := func(w corpusWant, kind, title string) bool {
			return kind == w.kind && (w.title == "" || title == w.title)
		}
		ok := true
		for _, f := range p.Findings {
			if !slices.ContainsFunc(ws, func(w corpusWant) bool { return w.file == f.File && w.line == f.Line && fits(w, f.Kind, f.Title) }) {
				ok = false
			}
		}
		for _, w := range ws {
			matched := false
			for _, f := range p.Findings {
				if !fits(w, f.Kind, f.Title) {
					continue
				}
				if f.File == w.file && f.Line == w.line {
					matched = true
				}
				for _, s := range f.Sites {
					if s.InLab && s.File == w.file && s.Line == w.line {
						matched = true
					}
				}
			}
			ok = ok && matched
		}
		if ok {
			found++
		}
	}
	return found, nil
}

// goTestFound counts the annotated packages that go test failed and whose
// output names every annotated line, and the packages that failed.
func goTestFound(out []byte, wants map[string][]corpusWant) (found, failed int) {
	const prefix = "racelab.dev/doctorcorpus/"
	output := map[string]*strings.Builder{}
	fails := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var e struct{ Action, Package, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		pkg, ok := strings.CutPrefix(e.Package, prefix)
		if !ok {
			continue
		}
		if output[pkg] == nil {
			output[pkg] = &strings.Builder{}
		}
		output[pkg].WriteString(e.Output)
		if e.Test == "" && e.Action == "fail" {
			fails[pkg] = true
		}
	}
	// A package that does not build has no test events, only build output.
	sc = bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var e struct{ ImportPath, Action, Output string }
		if json.Unmarshal(sc.Bytes(), &e) != nil || !strings.HasPrefix(e.Action, "build-") {
			continue
		}
		imp, _, _ := strings.Cut(e.ImportPath, " ")
		if pkg, ok := strings.CutPrefix(imp, prefix); ok {
			if output[pkg] == nil {
				output[pkg] = &strings.Builder{}
			}
			output[pkg].WriteString(e.Output)
			if e.Action == "build-fail" {
				fails[pkg] = true
			}
		}
	}
	failed = len(fails)
	for pkg, ws := range wants {
		if !fails[pkg] || output[pkg] == nil {
			continue
		}
		text := output[pkg].String()
		all := true
		for _, w := range ws {
			if !strings.Contains(text, path.Base(w.file)+":"+strconv.Itoa(w.line)) {
				all = false
			}
		}
		if all {
			found++
		}
	}
	return found, failed
}
