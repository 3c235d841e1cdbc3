package diagnose_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/runner"
)

// The recorded outputs in testdata/runs are real runs, normalized; the
// expected findings in testdata/golden are what Diagnose makes of them.
// `make golden` re-records both (see testdata/README.md).
var (
	update = flag.Bool("update", false, "rewrite testdata/golden from the recorded runs")
	record = flag.Bool("record", false, "re-run the fixture packages and the labs and rewrite testdata/runs (slow)")
)

const (
	fixtures = "checker/internal/diagnose/testdata/src"
	root     = "../../.."    // the repository, from this package
	normRoot = "/RACELAB"    // what the repository's path is replaced by
	normGo   = "/GOROOT"     // GOROOT
	normMod  = "/GOMODCACHE" // the module cache
)

// recorded is a run as stored: a diagnose.Run without the source map.
type recorded struct {
	Lab         diagnose.Lab
	Build       string `json:",omitempty"`
	BuildFailed bool   `json:",omitempty"`
	Exit        int
	Events      []diagnose.Event
}

func TestGolden(t *testing.T) {
	if *record {
		recordAll(t)
	}
	files, err := filepath.Glob("testdata/runs/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded runs in testdata/runs: run `make golden`")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			run := load(t, f)
			got := render(diagnose.Diagnose(run))
			golden := filepath.Join("testdata/golden", name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("no golden file: run `go test ./checker/internal/diagnose -update` (%v)", err)
			}
			if got != string(want) {
				t.Errorf("Diagnose(%s) changed; if the change is right, run `go test ./checker/internal/diagnose -update`\n--- got\n%s\n--- want\n%s", name, got, want)
			}
		})
	}
}

// TestWantComments checks the fixtures the way x/tools' analysistest does:
// every finding's location is on a line that says `// want "kind"`, and
// every such comment is matched by a finding (at its location or one of
// its sites) of that kind.
func TestWantComments(t *testing.T) {
	dirs, err := os.ReadDir("testdata/src")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		name := d.Name()
		t.Run(name, func(t *testing.T) {
			wants := readWants(t, filepath.Join("testdata/src", name))
			res := diagnose.Diagnose(load(t, filepath.Join("testdata/runs", name+".json")))
			matched := map[string]bool{}
			for _, f := range res.Findings {
				if f.File != "" {
					key := fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
					if !slices.Contains(wants[key], string(f.Kind)) {
						t.Errorf("%s finding at %s, but that line has no `// want %q`", f.Kind, key, f.Kind)
					}
				}
				for _, s := range append([]diagnose.Site{{File: f.File, Line: f.Line, InLab: true}}, f.Sites...) {
					if s.InLab {
						matched[fmt.Sprintf("%s:%d %s", filepath.Base(s.File), s.Line, f.Kind)] = true
					}
				}
			}
			for key, kinds := range wants {
				for _, k := range kinds {
					if !matched[key+" "+k] {
						t.Errorf("%s wants a %s finding; got %s", key, k, describe(res))
					}
				}
			}
			if name == "pass" && len(res.Findings) > 0 {
				t.Errorf("a passing run has findings: %s", describe(res))
			}
		})
	}
}

// TestKilled covers the runner's own verdicts, which no fixture can record.
func TestKilled(t *testing.T) {
	for _, c := range []struct {
		killed string
		kind   catalog.Kind
	}{
		{"time limit (35s)", catalog.Timeout},
		{"memory limit (2 GiB)", catalog.Panic},
		{"output limit (32 MiB)", catalog.Panic},
	} {
		res := diagnose.Diagnose(diagnose.Run{Killed: c.killed, Exit: -1, Events: []diagnose.Event{
			{Action: "run", Test: "TestX"}, {Action: "output", Test: "TestX", Output: "=== RUN   TestX\n"},
		}})
		if res.Kind() != c.kind || res.Findings[0].Test != "TestX" || !strings.Contains(res.Findings[0].Summary, c.killed) {
			t.Errorf("killed by %q: got %s", c.killed, describe(res))
		}
	}
}

// goroutineNumber matches the goroutine numbers in sites' roles, which
// change from run to run.
var goroutineNumber = regexp.MustCompile(`goroutine \d+`)

var wantComment = regexp.MustCompile(`// want((?: "[^"]+")+)`)

func readWants(t *testing.T, dir string) map[string][]string {
	wants := map[string][]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := wantComment.FindStringSubmatch(line); m != nil {
				for _, q := range regexp.MustCompile(`"[^"]+"`).FindAllString(m[1], -1) {
					k, _ := strconv.Unquote(q)
					key := fmt.Sprintf("%s:%d", filepath.Base(f), i+1)
					wants[key] = append(wants[key], k)
				}
			}
		}
	}
	return wants
}

func load(t *testing.T, path string) diagnose.Run {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run `make golden`)", path, err)
	}
	var r recorded
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	lab := r.Lab
	lab.Source = sources(filepath.Join(root, lab.RelDir))
	return diagnose.Run{Lab: lab, Build: r.Build, BuildFailed: r.BuildFailed, Exit: r.Exit, Events: r.Events}
}

func sources(dir string) map[string][]string {
	out := map[string][]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		out[filepath.Base(f)] = strings.Split(string(data), "\n")
	}
	return out
}

// render prints what a golden file pins: outcomes, kinds, locations,
// summaries and sites. Explanations are prose and left out.
func render(r diagnose.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kinds: %v\n", r.Kinds())
	for _, t := range r.Tests {
		fmt.Fprintf(&b, "test %s: %s\n", t.Name, t.Status)
	}
	for _, f := range r.Findings {
		// How many times a detector repeated a report varies from run to
		// run, so the count is left out.
		fmt.Fprintf(&b, "\n[%s] %s (test %q)\n  at %s\n  %s\n", f.Kind, f.Title, f.Test, f.Location(), f.Summary)
		for _, s := range f.Sites {
			if s.InLab {
				fmt.Fprintf(&b, "  - %s:%d %s\n", s.File, s.Line, goroutineNumber.ReplaceAllString(s.Role, "goroutine N"))
			}
		}
	}
	return b.String()
}

func describe(r diagnose.Result) string {
	var parts []string
	for _, f := range r.Findings {
		parts = append(parts, fmt.Sprintf("%s at %s (%s)", f.Kind, f.Location(), f.Summary))
	}
	if len(parts) == 0 {
		return "no findings"
	}
	return strings.Join(parts, "; ")
}

// recordAll runs every fixture package and every lab and solution with
// `go test -json -race`, and stores each run normalized.
func recordAll(t *testing.T) {
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	goroot := goEnv(t, "GOROOT")
	modcache := goEnv(t, "GOMODCACHE")
	type job struct {
		name, dir string
		files     []string
	}
	var jobs []job
	dirs, _ := os.ReadDir("testdata/src")
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join("testdata/src", d.Name(), "*.go"))
		var editable []string
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				editable = append(editable, filepath.Base(f))
			}
		}
		jobs = append(jobs, job{d.Name(), fixtures + "/" + d.Name(), editable})
	}
	cat, err := catalog.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cat {
		jobs = append(jobs, job{"lab-" + l.ID, l.Dir(), l.Files}, job{"solution-" + l.ID, l.SolutionDir(), l.Files})
	}
	os.MkdirAll("testdata/runs", 0o755)
	for _, j := range jobs {
		args := []string{"test", "-json", "-count=1", "-race", "-timeout=30s"}
		args = append(args, recordFlags(t, filepath.Join(abs, j.dir))...)
		args = append(args, "./"+j.dir)
		cmd := exec.Command("go", args...)
		cmd.Dir = abs
		cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		err := cmd.Run()
		exit := 0
		if ee, ok := err.(*exec.ExitError); ok {
			exit = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("record %s: %v", j.name, err)
		}
		norm := func(s string) string {
			s = strings.ReplaceAll(s, abs, normRoot)
			s = strings.ReplaceAll(s, goroot, normGo)
			s = strings.ReplaceAll(s, modcache, normMod)
			s = regexp.MustCompile(` \+0x[0-9a-f]+`).ReplaceAllString(s, " +0x0")
			s = regexp.MustCompile(`0x[0-9a-f]{8,}`).ReplaceAllString(s, "0x0")
			s = regexp.MustCompile(`\((\d+\.\d+)s\)`).ReplaceAllString(s, "(0.00s)")
			s = regexp.MustCompile(`\t\d+\.\d+s\n`).ReplaceAllString(s, "\t0.000s\n")
			return s
		}
		rec := recorded{Lab: diagnose.Lab{ID: filepath.Base(j.dir), RelDir: j.dir, Dir: normRoot + "/" + j.dir, Files: j.files}, Exit: exit}
		events, err := runner.ParseEvents(&stdout)
		if err != nil {
			t.Fatalf("record %s: %v", j.name, err)
		}
		for _, e := range events {
			switch e.Action {
			case "build-output":
				rec.Build += norm(e.Output)
				continue
			case "build-fail":
				rec.BuildFailed = true
				continue
			}
			if e.Package == "" {
				continue
			}
			// Times and durations differ on every run; nothing reads them.
			e.Time, e.Elapsed, e.Output = time.Time{}, 0, norm(e.Output)
			rec.Events = append(rec.Events, e)
		}
		data, err := json.MarshalIndent(rec, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata/runs", j.name+".json"), append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %s (exit %d, %d events)", j.name, exit, len(rec.Events))
	}
}

// recordFlags reads a `//racelab:record FLAGS` line from a fixture's test
// files: the extra go test flags its run needs.
func recordFlags(t *testing.T, dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "//racelab:record "); ok {
				return strings.Fields(rest)
			}
		}
	}
	return nil
}

func goEnv(t *testing.T, key string) string {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
