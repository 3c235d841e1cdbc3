package doctor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/report"
)

// --- text ----------------------------------------------------------------------

// Text writes the report for a person: a line per clean package, every
// finding in full for the others. verbose adds each finding's evidence.
func Text(w io.Writer, s report.Style, r *Report, verbose bool) {
	o := r.Options
	runs := "1 run"
	if n := o.Count * len(o.GOMAXPROCS); n > 1 {
		runs = fmt.Sprintf("up to %d runs", n)
	}
	if o.For > 0 {
		runs += fmt.Sprintf(", repeated for %s", o.For)
	}
	fmt.Fprintf(w, "%s %s\n", s.Bold("racelab doctor:"), r.Module)
	fmt.Fprintf(w, "%s\n", s.Dim(fmt.Sprintf("%s, -race, deadline %s per test, %s per package%s; paths relative to %s",
		r.Go, o.Deadline, runs, procsNote(o.GOMAXPROCS), r.Root)))
	width := 0
	for _, p := range r.Packages {
		width = max(width, len(p.ImportPath))
	}
	for _, p := range r.Packages {
		fmt.Fprintln(w)
		switch p.Status {
		case Clean:
			fmt.Fprintf(w, "%-*s  %s  %s\n", width, p.ImportPath, s.Green("clean"), s.Dim(fmt.Sprintf("%s, %s", plural(passed(p), "test"), runsText(p))))
		case NoTests:
			fmt.Fprintf(w, "%-*s  %s\n", width, p.ImportPath, s.Dim("no tests"))
		case Errored:
			fmt.Fprintf(w, "%-*s  %s  %s\n", width, p.ImportPath, s.Yellow("error"), report.Sanitize(firstLine(p.Err)))
		case Findings:
			fmt.Fprintf(w, "%-*s  %s  %s\n", width, p.ImportPath, s.Red(kindsText(p)), s.Dim(runsText(p)))
		}
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  %s %s\n", s.Yellow("note:"), report.Sanitize(n))
		}
		for i, f := range p.Findings {
			head := string(f.Kind)
			if f.Title != "" && f.Kind != catalog.Race || f.Title == "concurrent map access" {
				head += ": " + f.Title
			}
			fmt.Fprintf(w, "\n  %s %s", s.Bold(fmt.Sprintf("%d.", i+1)), s.Red(head))
			if f.Test != "" {
				fmt.Fprintf(w, " in %s", f.Test)
			}
			if f.Count > 1 {
				fmt.Fprintf(w, s.Dim(" (%d times)"), f.Count)
			}
			fmt.Fprintln(w)
			if loc := f.Location(); loc != "" {
				code := siteCode(f)
				fmt.Fprintf(w, "     at %s%s\n", s.Bold(loc), s.Dim(code))
			}
			fmt.Fprintf(w, "     %s\n\n%s\n", report.Sanitize(f.Summary), indent(report.Sanitize(f.Explanation), "     "))
			if verbose && f.Evidence != "" {
				fmt.Fprintf(w, "\n     %s\n%s\n", s.Dim("evidence:"), s.Dim(indent(report.Sanitize(f.Evidence), "     | ")))
			}
		}
	}
	c := count(r)
	fmt.Fprintf(w, "\n%s: ", s.Bold(plural(len(r.Packages), "package")))
	var parts []string
	if c.findings > 0 {
		var ks []string
		for _, k := range catalog.Kinds {
			if n := c.kinds[string(k)]; n > 0 {
				ks = append(ks, fmt.Sprintf("%d %s", n, k))
			}
		}
		parts = append(parts, s.Red(fmt.Sprintf("%d with findings (%s)", c.findings, strings.Join(ks, ", "))))
	}
	parts = append(parts, fmt.Sprintf("%d clean", c.clean))
	if c.errors > 0 {
		parts = append(parts, s.Yellow(fmt.Sprintf("%d could not run", c.errors)))
	}
	if c.noTests > 0 {
		parts = append(parts, fmt.Sprintf("%d without tests", c.noTests))
	}
	fmt.Fprintf(w, "%s; %s.\n", strings.Join(parts, ", "), r.Duration.Round(100*time.Millisecond))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func procsNote(ps []int) string {
	if len(ps) == 1 && ps[0] == 0 {
		return ""
	}
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprint(p))
	}
	return ", GOMAXPROCS " + strings.Join(s, ",")
}

func passed(p Result) int {
	n := 0
	for _, t := range p.Tests {
		if t.Status == diagnose.Pass {
			n++
		}
	}
	return n
}

func runsText(p Result) string {
	if len(p.Runs) == 0 {
		return p.Duration.Round(10 * time.Millisecond).String()
	}
	last := p.Runs[len(p.Runs)-1]
	t := p.Duration.Round(10 * time.Millisecond).String()
	if len(p.Runs) > 1 {
		t = fmt.Sprintf("%d runs, %s", len(p.Runs), t)
		if p.Status == Findings {
			t = fmt.Sprintf("found in run %d, %s", len(p.Runs), p.Duration.Round(10*time.Millisecond))
		}
	}
	if last.GOMAXPROCS > 0 {
		t += fmt.Sprintf(", GOMAXPROCS=%d", last.GOMAXPROCS)
	}
	return t
}

func kindsText(p Result) string {
	var ks []string
	for _, k := range p.Kinds() {
		ks = append(ks, string(k))
	}
	return strings.Join(ks, ", ")
}

func siteCode(f diagnose.Finding) string {
	for _, s := range f.Sites {
		if s.File == f.File && s.Line == f.Line && s.Code != "" {
			return "  " + s.Code
		}
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

type counts struct {
	clean, findings, errors, noTests int
	kinds                            map[string]int
}

func count(r *Report) counts {
	c := counts{kinds: map[string]int{}}
	for _, p := range r.Packages {
		switch p.Status {
		case Clean:
			c.clean++
		case Findings:
			c.findings++
			for _, k := range p.Kinds() {
				c.kinds[string(k)]++
			}
		case Errored:
			c.errors++
		case NoTests:
			c.noTests++
		}
	}
	return c
}

// --- JSON ----------------------------------------------------------------------

// Document is the JSON document (schema racelab.doctor/v1).
type Document struct {
	Schema   string       `json:"schema"`
	Go       string       `json:"go"`
	Module   string       `json:"module"`
	Root     string       `json:"root"`
	Settings Settings     `json:"settings"`
	Packages []PackageDoc `json:"packages"`
	Summary  SummaryDoc   `json:"summary"`
}

// Settings are the options the doctor ran with.
type Settings struct {
	DeadlineMS  int64 `json:"deadline_ms"`
	Count       int   `json:"count"`
	GOMAXPROCS  []int `json:"gomaxprocs"`
	ForMS       int64 `json:"for_ms"`
	TimeoutMS   int64 `json:"timeout_ms"`
	Locks       bool  `json:"locks"`
	Leaks       bool  `json:"leaks"`
	LeakProfile bool  `json:"leak_profile"`
}

// PackageDoc is one package.
type PackageDoc struct {
	Package         string              `json:"package"`
	Dir             string              `json:"dir"`
	Status          string              `json:"status"`
	Kind            string              `json:"kind,omitempty"`
	Kinds           []string            `json:"kinds,omitempty"`
	Summary         string              `json:"summary"`
	Error           string              `json:"error,omitempty"`
	Instrumentation string              `json:"instrumentation,omitempty"`
	Notes           []string            `json:"notes,omitempty"`
	Runs            []RunDoc            `json:"runs"`
	DurationMS      int64               `json:"duration_ms"`
	Tests           []report.TestDoc    `json:"tests"`
	Findings        []report.FindingDoc `json:"findings"`
}

// RunDoc is one run of a package's tests.
type RunDoc struct {
	GOMAXPROCS int   `json:"gomaxprocs"`
	DurationMS int64 `json:"duration_ms"`
	Processes  int   `json:"processes"`
	Findings   int   `json:"findings"`
}

// SummaryDoc counts the packages.
type SummaryDoc struct {
	Packages   int            `json:"packages"`
	Clean      int            `json:"clean"`
	Findings   int            `json:"findings"`
	Errors     int            `json:"errors"`
	NoTests    int            `json:"no_tests"`
	Kinds      map[string]int `json:"kinds"`
	DurationMS int64          `json:"duration_ms"`
}

// NewDocument converts a report.
func NewDocument(r *Report) Document {
	o := r.Options
	doc := Document{Schema: Schema, Go: r.Go, Module: r.Module, Root: r.Root, Packages: []PackageDoc{},
		Settings: Settings{DeadlineMS: o.Deadline.Milliseconds(), Count: o.Count, GOMAXPROCS: o.GOMAXPROCS, ForMS: o.For.Milliseconds(),
			TimeoutMS: o.Timeout.Milliseconds(), Locks: o.Locks, Leaks: o.Leaks, LeakProfile: o.LeakProfile}}
	for _, p := range r.Packages {
		pd := PackageDoc{Package: p.ImportPath, Dir: p.Dir, Status: string(p.Status), Error: p.Err, Instrumentation: p.Instrumentation,
			Notes: p.Notes, Runs: []RunDoc{}, DurationMS: p.Duration.Milliseconds(), Tests: []report.TestDoc{}, Findings: report.FindingDocs(p.Findings)}
		for _, k := range p.Kinds() {
			pd.Kinds = append(pd.Kinds, string(k))
		}
		if len(pd.Kinds) > 0 {
			pd.Kind = pd.Kinds[0]
		}
		pd.Summary = summaryOf(p)
		for _, run := range p.Runs {
			pd.Runs = append(pd.Runs, RunDoc{GOMAXPROCS: run.GOMAXPROCS, DurationMS: run.Duration.Milliseconds(), Processes: run.Processes, Findings: run.Findings})
		}
		for _, t := range p.Tests {
			pd.Tests = append(pd.Tests, report.TestDoc{Name: t.Name, Status: string(t.Status), ElapsedMS: t.Elapsed.Milliseconds()})
		}
		doc.Packages = append(doc.Packages, pd)
	}
	c := count(r)
	doc.Summary = SummaryDoc{Packages: len(r.Packages), Clean: c.clean, Findings: c.findings, Errors: c.errors, NoTests: c.noTests, Kinds: c.kinds, DurationMS: r.Duration.Milliseconds()}
	return doc
}

func summaryOf(p Result) string {
	switch p.Status {
	case Clean:
		return fmt.Sprintf("all %d tests pass under -race, with no deadlock, leak or lock-order finding", passed(p))
	case NoTests:
		return "no tests"
	case Errored:
		return "could not run: " + firstLine(p.Err)
	}
	if f, ok := p.Primary(); ok {
		return f.Summary
	}
	return "findings"
}

// --- JUnit ---------------------------------------------------------------------

// JUnit writes the report as JUnit XML, the labs' way: a suite per package.
func JUnit(w io.Writer, r *Report) error {
	var outcomes []engine.Outcome
	for _, p := range r.Packages {
		o := engine.Outcome{Job: engine.Job{Lab: catalog.Lab{ID: p.ImportPath}, Dir: p.Dir}, Result: diagnose.Result{Tests: p.Tests, Findings: p.Findings}, Duration: p.Duration}
		switch p.Status {
		case Clean, NoTests:
			o.Status = engine.Fixed
		case Findings:
			o.Status = engine.Broken
		default:
			o.Status, o.Err = engine.Errored, fmt.Errorf("%s", p.Err)
		}
		outcomes = append(outcomes, o)
	}
	return report.JUnit(w, outcomes)
}

// --- SARIF 2.1.0 ---------------------------------------------------------------

// SARIF writes the findings as a SARIF 2.1.0 log, which code-scanning
// tools (GitHub's among them) show on the lines of a pull request. Paths
// are relative to the git work tree's root when there is one (where CI
// checks the code out), else to the module root.
func SARIF(w io.Writer, r *Report, version string) error {
	type text struct {
		Text string `json:"text"`
	}
	type region struct {
		StartLine int `json:"startLine"`
	}
	type artifact struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId,omitempty"`
	}
	type physical struct {
		ArtifactLocation artifact `json:"artifactLocation"`
		Region           region   `json:"region"`
	}
	type location struct {
		ID               int      `json:"id,omitempty"`
		PhysicalLocation physical `json:"physicalLocation"`
		Message          *text    `json:"message,omitempty"`
	}
	type result struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             text              `json:"message"`
		Locations           []location        `json:"locations"`
		RelatedLocations    []location        `json:"relatedLocations,omitempty"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
	}
	type rule struct {
		ID                   string            `json:"id"`
		Name                 string            `json:"name"`
		ShortDescription     text              `json:"shortDescription"`
		FullDescription      text              `json:"fullDescription"`
		Help                 text              `json:"help"`
		DefaultConfiguration map[string]string `json:"defaultConfiguration"`
		Properties           map[string]any    `json:"properties"`
	}
	base, prefix := r.Root, ""
	if r.GitRoot != "" {
		base = r.GitRoot
		if rel, err := filepath.Rel(r.GitRoot, r.Root); err == nil && rel != "." {
			prefix = filepath.ToSlash(rel)
		}
	}
	uri := func(file string) string { return path.Join(prefix, file) }
	var rules []rule
	ruleIndex := map[string]int{}
	var results []result
	for _, p := range r.Packages {
		for _, f := range locatable(p) {
			id := ruleID(f)
			if _, ok := ruleIndex[id]; !ok {
				ruleIndex[id] = len(rules)
				name := string(f.Kind)
				if f.Title != "" {
					name += ": " + f.Title
				}
				rules = append(rules, rule{ID: id, Name: camel(id), ShortDescription: text{name}, FullDescription: text{name + ", found by running the tests under Racelab's doctor"},
					Help:                 text{"Run `go run github.com/racelab/racelab/checker doctor` locally for the explanation and the fix."},
					DefaultConfiguration: map[string]string{"level": "error"}, Properties: map[string]any{"tags": []string{"concurrency", string(f.Kind)}}})
			}
			msg := f.Summary
			if f.Test != "" {
				msg += " (in " + f.Test + ")"
			}
			res := result{RuleID: id, RuleIndex: ruleIndex[id], Level: "error", Message: text{msg},
				Locations:           []location{{PhysicalLocation: physical{ArtifactLocation: artifact{URI: uri(f.File), URIBaseID: "%SRCROOT%"}, Region: region{max(1, f.Line)}}}},
				PartialFingerprints: map[string]string{"racelabFinding/v1": fingerprint(p.ImportPath, f)}}
			for i, s := range f.Sites {
				if !s.InLab || s.File == f.File && s.Line == f.Line {
					continue
				}
				res.RelatedLocations = append(res.RelatedLocations, location{ID: i + 1, Message: &text{s.Role},
					PhysicalLocation: physical{ArtifactLocation: artifact{URI: uri(s.File), URIBaseID: "%SRCROOT%"}, Region: region{max(1, s.Line)}}})
			}
			results = append(results, res)
		}
	}
	if results == nil {
		results = []result{}
	}
	if rules == nil {
		rules = []rule{}
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "racelab-doctor", "informationUri": "https://github.com/racelab/racelab", "version": version, "rules": rules,
			}},
			"originalUriBaseIds": map[string]any{"%SRCROOT%": map[string]string{"uri": "file://" + filepath.ToSlash(base) + "/"}},
			"results":            results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// locatable returns a package's findings, each with a place in the code:
// its own, else the declaration of its test, else the package's first file.
func locatable(p Result) []diagnose.Finding {
	var out []diagnose.Finding
	for _, f := range p.Findings {
		if f.File == "" {
			if file, line := p.TestLine(f.Test); file != "" {
				f.File, f.Line = path.Join(p.Dir, filepath.Base(file)), line
			}
		}
		if f.File == "" {
			f.File, f.Line = path.Join(p.Dir, "."), 1
		}
		out = append(out, f)
	}
	if p.Status == Errored {
		out = append(out, diagnose.Finding{Kind: catalog.BuildError, Title: "could not run", File: p.Dir, Line: 1, Summary: "could not run: " + firstLine(p.Err)})
	}
	return out
}

// ruleID is "racelab/deadlock/lock-order-inversion".
func ruleID(f diagnose.Finding) string {
	id := "racelab/" + slug(string(f.Kind))
	if f.Title != "" {
		id += "/" + slug(f.Title)
	}
	return id
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func camel(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '/' || r == '-' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// fingerprint identifies a finding across runs and commits without its
// line number, so a finding that moves keeps its identity.
func fingerprint(pkg string, f diagnose.Finding) string {
	code := ""
	for _, s := range f.Sites {
		if s.File == f.File && s.Line == f.Line {
			code = strings.TrimSpace(s.Code)
		}
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{pkg, string(f.Kind), f.Title, f.Test, f.File, code}, "\x00")))
	return hex.EncodeToString(sum[:12])
}

// --- GitHub Actions ------------------------------------------------------------

// Annotations writes a GitHub Actions workflow command per finding, so the
// run's summary and the pull request's files show it on its line:
//
//	::error file=store/cache.go,line=42,title=deadlock: double lock::...
func Annotations(w io.Writer, r *Report) {
	prefix := ""
	if r.GitRoot != "" {
		if rel, err := filepath.Rel(r.GitRoot, r.Root); err == nil && rel != "." {
			prefix = filepath.ToSlash(rel)
		}
	}
	for _, p := range r.Packages {
		for _, f := range locatable(p) {
			title := string(f.Kind)
			if f.Title != "" {
				title += ": " + f.Title
			}
			msg := f.Summary
			if f.Test != "" {
				msg += " (in " + f.Test + ")"
			}
			fmt.Fprintf(w, "::error file=%s,line=%d,title=%s::%s\n", escapeProperty(path.Join(prefix, f.File)), max(1, f.Line), escapeProperty(title), escapeData(msg))
		}
	}
}

// escapeData and escapeProperty escape a workflow command's message and
// property values (github.com/actions/toolkit, packages/core/src/command.ts).
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
