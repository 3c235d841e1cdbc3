package grade

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/report"
)

// Schema names the version of the grade document; see the package comment.
const Schema = "racelab.grade/v1"

// Document is a submission's grade as JSON.
type Document struct {
	Schema     string   `json:"schema"`
	Submission string   `json:"submission"`
	Go         string   `json:"go"`
	Points     int      `json:"points"`
	MaxPoints  int      `json:"max_points"`
	DurationMS int64    `json:"duration_ms"`
	BoundMS    int64    `json:"bound_ms"`
	Error      string   `json:"error,omitempty"`
	Labs       []LabDoc `json:"labs"`
	Warnings   []string `json:"warnings"`
}

// LabDoc is one lab's grade.
type LabDoc struct {
	ID        string              `json:"id"`
	Status    string              `json:"status"`
	Points    int                 `json:"points"`
	MaxPoints int                 `json:"max_points"`
	Reason    string              `json:"reason"`
	Credited  []string            `json:"credited,omitempty"`
	Rejected  []Rejection         `json:"rejected,omitempty"`
	Notes     []string            `json:"notes,omitempty"`
	Tests     []report.TestDoc    `json:"tests"`
	Findings  []report.FindingDoc `json:"findings"`
}

// NewDocument converts a result.
func NewDocument(r Result) Document {
	got, most := r.Points()
	d := Document{Schema: Schema, Submission: r.Submission, Go: r.GoVersion, Points: got, MaxPoints: most,
		DurationMS: r.Duration.Milliseconds(), BoundMS: r.Bound.Milliseconds(), Error: r.Error, Labs: []LabDoc{}, Warnings: r.Warnings}
	if d.Warnings == nil {
		d.Warnings = []string{}
	}
	for _, l := range r.Labs {
		ld := LabDoc{ID: l.Lab.ID, Status: string(l.Status), Points: l.Points, MaxPoints: l.Lab.Points,
			Reason: l.Reason, Credited: l.Credited, Rejected: l.Rejected, Notes: l.Notes, Tests: []report.TestDoc{}, Findings: report.FindingDocs(l.Findings)}
		for _, t := range l.Tests {
			ld.Tests = append(ld.Tests, report.TestDoc{Name: t.Name, Status: string(t.Status), ElapsedMS: t.Elapsed.Milliseconds()})
		}
		d.Labs = append(d.Labs, ld)
	}
	return d
}

// JUnit writes the grade as JUnit XML: one test case per test of each
// lab, named "<lab>/<Test>". A test passes when its lab passes, or when
// it is one of a failing lab's Credited tests; otherwise it fails (or is
// an error, when its lab is) with the lab's reason as the message and,
// as the text, the rejected files and the diagnosis.
func JUnit(w io.Writer, r Result) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Error     *failure `xml:"error,omitempty"`
	}
	type testsuite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Errors   int        `xml:"errors,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	suite := testsuite{Name: r.Submission, Time: fmt.Sprintf("%.3f", r.Duration.Seconds())}
	for _, l := range r.Labs {
		var text strings.Builder
		for _, rj := range l.Rejected {
			fmt.Fprintf(&text, "rejected %s: %s\n", rj.File, rj.Reason)
		}
		for _, f := range l.Findings {
			fmt.Fprintf(&text, "%s: %s %s\n", f.Kind, f.Summary, f.Location())
		}
		tests := l.Lab.Tests
		if len(tests) == 0 {
			tests = []string{"build"}
		}
		for _, name := range tests {
			tc := testcase{Name: l.Lab.ID + "/" + name, Classname: "racelab.grade." + l.Lab.ID, Time: "0.000"}
			if i := slices.IndexFunc(l.Tests, func(t diagnose.TestResult) bool { return t.Name == name }); i >= 0 {
				tc.Time = fmt.Sprintf("%.3f", l.Tests[i].Elapsed.Seconds())
			}
			switch {
			case l.Status == Error:
				tc.Error = &failure{Message: l.Reason, Type: "error", Text: text.String()}
				suite.Errors++
			case l.Status == Fail && !slices.Contains(l.Credited, name):
				tc.Failure = &failure{Message: l.Reason, Type: "fail", Text: text.String()}
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, tc)
		}
	}
	suite.Tests = len(suite.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suite); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
