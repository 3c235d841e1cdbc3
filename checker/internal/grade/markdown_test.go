package grade

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/engine"
)

// sample is a graded submission with one lab of each grade and a reason
// that tries to break out of a Markdown table.
func sample() Result {
	return Result{
		Submission: "/class/alice",
		Labs: []LabResult{
			{Lab: catalog.Lab{ID: "hitcounter", Points: 10}, Status: Pass, Points: 10, Reason: "all 7 tests pass under -race", Duration: 1500 * time.Millisecond},
			{Lab: catalog.Lab{ID: "bank", Points: 20}, Status: Fail, Reason: "does not compile | <img src=x onerror=alert(1)> [click](http://evil) @admin\n| injected | row |"},
			{Lab: catalog.Lab{ID: "mailer", Points: 15}, Status: Error, Reason: "the build was stopped: time limit (2m0s)"},
		},
		Warnings: []string{"labs/bank/bank_test.go differs from the original; the original was used"},
	}
}

// TestClassroom: the result is base64 of the JSON the Classroom grading
// reporter reads: a test per lab scored with its points, the maximum, and
// the worst status.
func TestClassroom(t *testing.T) {
	var b bytes.Buffer
	if err := WriteClassroom(&b, sample()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n != 1 || !strings.HasSuffix(b.String(), "\n") {
		t.Errorf("the result is %d lines; want one, for $GITHUB_OUTPUT", n)
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b.String()))
	if err != nil {
		t.Fatalf("not base64: %v", err)
	}
	// Decoded as the reporter reads it: loosely, by field name.
	var got struct {
		Version  int    `json:"version"`
		Status   string `json:"status"`
		MaxScore int    `json:"max_score"`
		Tests    []struct {
			Name, Status, Message string
			Score                 int
		} `json:"tests"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || got.Status != "error" || got.MaxScore != 45 || len(got.Tests) != 3 {
		t.Fatalf("got version %d, status %s, max_score %d, %d tests; want 1, error, 45, 3\n%s", got.Version, got.Status, got.MaxScore, len(got.Tests), data)
	}
	total := 0
	for _, tc := range got.Tests {
		total += tc.Score
	}
	if total != 10 || got.Tests[0].Name != "hitcounter" || got.Tests[0].Status != "pass" || got.Tests[1].Status != "fail" || !strings.Contains(got.Tests[2].Message, "time limit") {
		t.Errorf("tests %+v; want a score of 10 in all, hitcounter pass, bank fail, mailer's reason", got.Tests)
	}
	r := sample()
	r.Labs = r.Labs[:2]
	if c := NewClassroom(r); c.Status != "fail" {
		t.Errorf("with a fail and no error the status is %s, want fail", c.Status)
	}
	r.Labs = r.Labs[:1]
	if c := NewClassroom(r); c.Status != "pass" {
		t.Errorf("with every lab passing the status is %s, want pass", c.Status)
	}
}

// TestMarkdown: the summary has the total and a row per lab, and text
// from the submission stays inside its cell as plain text.
func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, sample()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"### Racelab grade: 10/45 points", "| hitcounter | ✅ pass | 10/10 |", "| bank | ❌ fail | 0/20 |", "| mailer | ⚠️ error | 0/15 |", "- labs/bank/bank\\_test\\.go differs"} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in\n%s", want, md)
		}
	}
	for _, bad := range []string{"<img", "](http", " @admin", "\n| injected"} {
		if strings.Contains(md, bad) {
			t.Errorf("the submission's text %q reached the Markdown unescaped:\n%s", bad, md)
		}
	}
	var rows int
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "|") {
			rows++
			if n := strings.Count(line, "|") - strings.Count(line, "\\|"); n != 5 {
				t.Errorf("a table row has %d cell borders, want 5: %s", n, line)
			}
		}
	}
	if rows != 5 {
		t.Errorf("%d table lines, want a header, its rule and 3 labs:\n%s", rows, md)
	}
}

// TestPartialCredit: a lab whose catalog entry splits its points over
// its tests earns, when it fails, the points of each test both the
// harness's record and the output show passing; output that disagrees
// with the record, a run stopped or without a verdict, and a lab
// without a split earn nothing.
func TestPartialCredit(t *testing.T) {
	split := catalog.Lab{ID: "bank", Points: 10, Tests: []string{"TestA", "TestB", "TestC"},
		TestPoints: map[string]int{"TestA": 3, "TestB": 3, "TestC": 4}}
	whole := split
	whole.TestPoints = nil
	outcome := func(statuses ...diagnose.TestStatus) engine.Outcome {
		var oc engine.Outcome
		for i, s := range statuses {
			oc.Result.Tests = append(oc.Result.Tests, diagnose.TestResult{Name: split.Tests[i], Status: s})
		}
		return oc
	}
	verdictOf := func(line string) *verdictReader {
		v := &verdictReader{secret: "s3cret", done: make(chan struct{}), data: []byte(line)}
		close(v.done)
		return v
	}
	P, F := diagnose.Pass, diagnose.Fail
	for _, c := range []struct {
		name   string
		lab    catalog.Lab
		oc     engine.Outcome
		line   string
		status Status
		points int
		reason string
	}{
		{"two of three pass", split, outcome(P, P, F), "racelab-verdict v1 s3cret code=1 passed=TestA,TestB", Fail, 6, "partial credit: 2 of 3 tests pass, 6 of 10 points"},
		{"all or nothing", whole, outcome(P, P, F), "racelab-verdict v1 s3cret code=1 passed=TestA,TestB", Fail, 0, "the tests failed"},
		{"the output disagrees", split, outcome(P, F, F), "racelab-verdict v1 s3cret code=1 passed=TestA,TestB", Fail, 0, "partial credit: 0 of 3"},
		{"a test did not run to the end", split, outcome(P, F), "racelab-verdict v1 s3cret code=0 passed=TestA", Fail, 3, "TestB did not run to the end (partial credit: 1 of 3 tests pass, 3 of 10 points)"},
		{"not recorded passing", split, outcome(P, P, F), "racelab-verdict v1 s3cret code=1 passed=TestA", Fail, 3, "3 of 10 points"},
		{"no verdict", split, outcome(P, P, P), "racelab-verdict v1 wrong code=0 passed=TestA,TestB,TestC", Fail, 0, "no verdict"},
		{"every test passes", split, outcome(P, P, P), "racelab-verdict v1 s3cret code=0 passed=TestA,TestB,TestC", Pass, 10, "all 3 tests pass"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := finish(judge(LabResult{Lab: c.lab}, c.oc, verdictOf(c.line), DefaultOutput))
			if r.Status != c.status || r.Points != c.points || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("got %s, %d points (%s); want %s, %d points, a reason containing %q", r.Status, r.Points, r.Reason, c.status, c.points, c.reason)
			}
		})
	}
	killed := outcome(P, P, F)
	killed.Run.Killed = "time limit (30s)"
	if r := finish(judge(LabResult{Lab: split}, killed, verdictOf("racelab-verdict v1 s3cret code=1 passed=TestA,TestB"), DefaultOutput)); r.Points != 0 {
		t.Errorf("a run stopped by the grader earned %d points, want 0", r.Points)
	}
}

// TestJUnit: a test case per test of each lab; a failing lab's tests
// fail with its reason unless credited, and an error lab's are errors.
func TestJUnit(t *testing.T) {
	r := Result{Submission: "/class/alice", Labs: []LabResult{
		{Lab: catalog.Lab{ID: "hitcounter", Points: 10, Tests: []string{"TestTally", "TestEmpty"}}, Status: Pass,
			Tests: []diagnose.TestResult{{Name: "TestTally", Status: diagnose.Pass, Elapsed: 1500 * time.Millisecond}}},
		{Lab: catalog.Lab{ID: "bank", Points: 20, Tests: []string{"TestTransfer", "TestAudit"}}, Status: Fail, Reason: "the tests failed",
			Credited: []string{"TestAudit"}, Rejected: []Rejection{{File: "labs/bank/extra.go", Reason: "imports os"}}},
		{Lab: catalog.Lab{ID: "mailer", Points: 15, Tests: []string{"TestSend"}}, Status: Error, Reason: "the build was stopped: time limit (2m0s)"},
	}}
	var b bytes.Buffer
	if err := JUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Time    string `xml:"time,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(b.Bytes(), &suite); err != nil {
		t.Fatal(err)
	}
	if suite.Tests != 5 || suite.Failures != 1 || suite.Errors != 1 || len(suite.Cases) != 5 {
		t.Fatalf("%d tests, %d failures, %d errors; want 5, 1, 1\n%s", suite.Tests, suite.Failures, suite.Errors, b.String())
	}
	var got []string
	for _, c := range suite.Cases {
		s := c.Name + " pass"
		if c.Failure != nil {
			s = c.Name + " fail: " + c.Failure.Message + " | " + strings.TrimSpace(c.Failure.Text)
		}
		if c.Error != nil {
			s = c.Name + " error: " + c.Error.Message
		}
		got = append(got, s)
	}
	want := []string{
		"hitcounter/TestTally pass", "hitcounter/TestEmpty pass",
		"bank/TestTransfer fail: the tests failed | rejected labs/bank/extra.go: imports os", "bank/TestAudit pass",
		"mailer/TestSend error: the build was stopped: time limit (2m0s)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if suite.Cases[0].Time != "1.500" {
		t.Errorf("TestTally's time is %s, want 1.500", suite.Cases[0].Time)
	}
}
