package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/engine"
)

// CheckSchema names the version of the JSON document [JSON] writes. The
// schema is documented in the checker's package comment; fields are only
// ever added within a version.
const CheckSchema = "racelab.check/v1"

// Document is the JSON output of a check.
type Document struct {
	Schema  string   `json:"schema"`
	Go      string   `json:"go"`
	Labs    []LabDoc `json:"labs"`
	Summary Summary  `json:"summary"`
}

// Summary counts the labs.
type Summary struct {
	Fixed  int    `json:"fixed"`
	Broken int    `json:"broken"`
	Errors int    `json:"errors"`
	Total  int    `json:"total"`
	Next   string `json:"next,omitempty"`
}

// LabDoc is one lab's outcome.
type LabDoc struct {
	ID         string       `json:"id"`
	Title      string       `json:"title"`
	Block      string       `json:"block"`
	Difficulty int          `json:"difficulty"`
	Dir        string       `json:"dir"`
	GOMAXPROCS int          `json:"gomaxprocs,omitempty"`
	Status     string       `json:"status"`
	Kind       string       `json:"kind,omitempty"`
	Kinds      []string     `json:"kinds,omitempty"`
	Summary    string       `json:"summary"`
	Error      string       `json:"error,omitempty"`
	DurationMS int64        `json:"duration_ms"`
	Tests      []TestDoc    `json:"tests"`
	Findings   []FindingDoc `json:"findings"`
}

// TestDoc is one test's outcome.
type TestDoc struct {
	Name      string `json:"name"`
	Status    string `json:"status"`
	ElapsedMS int64  `json:"elapsed_ms"`
}

// FindingDoc is one finding.
type FindingDoc struct {
	Kind        string    `json:"kind"`
	Test        string    `json:"test,omitempty"`
	Title       string    `json:"title"`
	File        string    `json:"file,omitempty"`
	Line        int       `json:"line,omitempty"`
	Summary     string    `json:"summary"`
	Explanation string    `json:"explanation"`
	Evidence    string    `json:"evidence,omitempty"`
	Count       int       `json:"count"`
	Sites       []SiteDoc `json:"sites,omitempty"`
}

// SiteDoc is one place a finding refers to.
type SiteDoc struct {
	Role  string `json:"role"`
	File  string `json:"file"`
	Line  int    `json:"line"`
	Func  string `json:"func,omitempty"`
	Code  string `json:"code,omitempty"`
	InLab bool   `json:"in_lab"`
}

// NewDocument builds the JSON document of outcomes.
func NewDocument(goVersion string, outcomes []engine.Outcome, next string) Document {
	doc := Document{Schema: CheckSchema, Go: goVersion, Labs: []LabDoc{}}
	for _, o := range outcomes {
		doc.Labs = append(doc.Labs, NewLabDoc(o))
		switch o.Status {
		case engine.Fixed:
			doc.Summary.Fixed++
		case engine.Broken:
			doc.Summary.Broken++
		default:
			doc.Summary.Errors++
		}
	}
	doc.Summary.Total = len(outcomes)
	doc.Summary.Next = next
	return doc
}

// NewLabDoc converts one outcome.
func NewLabDoc(o engine.Outcome) LabDoc {
	l := o.Job.Lab
	d := LabDoc{
		ID: l.ID, Title: l.Title, Block: string(l.Block), Difficulty: l.Difficulty, Dir: o.Job.Dir,
		GOMAXPROCS: o.Job.GOMAXPROCS, Status: string(o.Status), Summary: OneLine(o),
		DurationMS: o.Duration.Milliseconds(), Tests: []TestDoc{}, Findings: FindingDocs(o.Result.Findings),
	}
	if o.Err != nil {
		d.Error = o.Err.Error()
	}
	if k := o.Result.Kind(); k != "" {
		d.Kind = string(k)
		for _, k := range o.Result.Kinds() {
			d.Kinds = append(d.Kinds, string(k))
		}
	}
	for _, t := range o.Result.Tests {
		d.Tests = append(d.Tests, TestDoc{Name: t.Name, Status: string(t.Status), ElapsedMS: t.Elapsed.Milliseconds()})
	}
	return d
}

// FindingDocs converts findings.
func FindingDocs(fs []diagnose.Finding) []FindingDoc {
	out := []FindingDoc{}
	for _, f := range fs {
		fd := FindingDoc{Kind: string(f.Kind), Test: f.Test, Title: f.Title, File: f.File, Line: f.Line,
			Summary: f.Summary, Explanation: f.Explanation, Evidence: f.Evidence, Count: f.Count}
		for _, s := range f.Sites {
			fd.Sites = append(fd.Sites, SiteDoc{Role: s.Role, File: s.File, Line: s.Line, Func: s.Func, Code: s.Code, InLab: s.InLab})
		}
		out = append(out, fd)
	}
	return out
}

// JSON writes v as indented JSON.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// JUnit writes outcomes as JUnit XML: a suite per lab, a case per test.
// Findings become failures of the test they happened in; findings outside
// any test (a build error, a crash) become a failure of a case named after
// the lab.
func JUnit(w io.Writer, outcomes []engine.Outcome) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string    `xml:"name,attr"`
		Classname string    `xml:"classname,attr"`
		Time      string    `xml:"time,attr"`
		Failure   *failure  `xml:"failure,omitempty"`
		Error     *failure  `xml:"error,omitempty"`
		Skipped   *struct{} `xml:"skipped,omitempty"`
	}
	type testsuite struct {
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Errors   int        `xml:"errors,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	type testsuites struct {
		XMLName xml.Name    `xml:"testsuites"`
		Suites  []testsuite `xml:"testsuite"`
	}
	var doc testsuites
	for _, o := range outcomes {
		suite := testsuite{Name: o.Job.Dir, Time: secs(o.Duration.Seconds())}
		class := strings.ReplaceAll(o.Job.Dir, "/", ".")
		describe := func(fs []diagnose.Finding) *failure {
			if len(fs) == 0 {
				return nil
			}
			var text strings.Builder
			for _, f := range fs {
				fmt.Fprintf(&text, "%s: %s\n", f.Kind, f.Summary)
				if f.File != "" {
					fmt.Fprintf(&text, "at %s\n", f.Location())
				}
				fmt.Fprintf(&text, "%s\n\n%s\n\n", f.Explanation, f.Evidence)
			}
			return &failure{Message: fs[0].Summary, Type: string(fs[0].Kind), Text: text.String()}
		}
		if o.Status == engine.Errored {
			suite.Cases = append(suite.Cases, testcase{Name: o.Job.Lab.ID, Classname: class, Time: "0",
				Error: &failure{Message: firstLine(o.Err.Error()), Type: "error", Text: o.Err.Error()}})
			suite.Errors++
		}
		var loose []diagnose.Finding
		for _, f := range o.Result.Findings {
			if f.Test == "" {
				loose = append(loose, f)
			}
		}
		if len(loose) > 0 {
			suite.Cases = append(suite.Cases, testcase{Name: o.Job.Lab.ID, Classname: class, Time: "0", Failure: describe(loose)})
			suite.Failures++
		}
		for _, t := range o.Result.Tests {
			var mine []diagnose.Finding
			for _, f := range o.Result.Findings {
				if f.Test == t.Name {
					mine = append(mine, f)
				}
			}
			tc := testcase{Name: t.Name, Classname: class, Time: secs(t.Elapsed.Seconds())}
			switch {
			case t.Status == diagnose.Skip:
				tc.Skipped = &struct{}{}
			case len(mine) > 0:
				tc.Failure = describe(mine)
			case t.Status != diagnose.Pass:
				tc.Failure = &failure{Message: string(t.Status), Type: string(t.Status)}
			}
			if tc.Failure != nil {
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, tc)
		}
		suite.Tests = len(suite.Cases)
		doc.Suites = append(doc.Suites, suite)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(s float64) string { return fmt.Sprintf("%.3f", s) }
