package grade

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Markdown writes the grade as GitHub-flavoured Markdown, for a CI job's
// summary ($GITHUB_STEP_SUMMARY): the total, a table of labs and the
// warnings. Text from the submission is made one line and escaped, so
// that it can neither close the table nor become a link, an image or
// HTML.
func Markdown(w io.Writer, r Result) error {
	ew := &errWriter{w: w}
	got, most := r.Points()
	ew.printf("### Racelab grade: %d/%d points\n\n", got, most)
	if r.Error != "" {
		ew.printf("> **Cannot grade the submission:** %s\n\n", mdEscape(r.Error))
	}
	ew.printf("| Lab | Grade | Points | Why |\n|---|---|---|---|\n")
	for _, l := range r.Labs {
		mark := map[Status]string{Pass: "✅ pass", Fail: "❌ fail", Error: "⚠️ error"}[l.Status]
		why := mdEscape(l.Reason)
		for _, rj := range l.Rejected[min(1, len(l.Rejected)):] {
			why += "<br>also rejected: " + mdEscape(rj.File+": "+rj.Reason)
		}
		ew.printf("| %s | %s | %d/%d | %s |\n", mdEscape(l.Lab.ID), mark, l.Points, l.Lab.Points, why)
	}
	if len(r.Warnings) > 0 {
		ew.printf("\n**Warnings**\n\n")
		for _, warn := range r.Warnings {
			ew.printf("- %s\n", mdEscape(warn))
		}
	}
	return ew.err
}

// mdEscape makes text from a submission one line of plain Markdown
// text: every punctuation character Markdown or HTML gives a meaning to
// is escaped.
func mdEscape(s string) string {
	s = oneLine(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '-', '.', '!', '|', '~', '"', '\'', ':', '@':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Classroom is the result GitHub Classroom's autograding reporter
// (classroom-resources/autograding-grading-reporter) reads from each
// runner, as its command grader writes it: one test per lab, scored
// with the lab's points. The reporter adds up the tests' scores against
// MaxScore and fails the workflow when Status is "fail" or "error".
type Classroom struct {
	Version  int             `json:"version"`
	Status   string          `json:"status"` // "pass", "fail" or "error"
	MaxScore int             `json:"max_score"`
	Tests    []ClassroomTest `json:"tests"`
}

// ClassroomTest is one lab in a Classroom result.
type ClassroomTest struct {
	Name          string `json:"name"`
	Status        string `json:"status"`
	Score         int    `json:"score"`
	Message       string `json:"message"`
	TestCode      string `json:"test_code"`
	Filename      string `json:"filename"`
	LineNo        int    `json:"line_no"`
	ExecutionTime string `json:"execution_time"`
}

// NewClassroom converts a result. Status is the worst of the labs': an
// Error anywhere is "error", else a Fail is "fail".
func NewClassroom(r Result) Classroom {
	_, most := r.Points()
	c := Classroom{Version: 1, Status: string(Pass), MaxScore: most, Tests: []ClassroomTest{}}
	for _, l := range r.Labs {
		switch {
		case l.Status == Error:
			c.Status = string(Error)
		case l.Status == Fail && c.Status != string(Error):
			c.Status = string(Fail)
		}
		c.Tests = append(c.Tests, ClassroomTest{
			Name: l.Lab.ID, Status: string(l.Status), Score: l.Points, Message: l.Reason,
			TestCode: "go run ./checker grade --submission . -labs " + l.Lab.ID,
			Filename: "labs/" + l.Lab.ID, ExecutionTime: fmt.Sprintf("%.1fs", (l.BuildTime + l.Duration).Seconds()),
		})
	}
	if len(r.Labs) == 0 || r.Error != "" {
		c.Status = string(Error)
	}
	return c
}

// WriteClassroom writes the Classroom result as the runner's `result`
// output: base64 of its JSON, on one line.
func WriteClassroom(w io.Writer, r Result) error {
	data, err := json.Marshal(NewClassroom(r))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, base64.StdEncoding.EncodeToString(data))
	return err
}
