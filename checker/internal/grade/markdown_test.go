package grade

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
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
