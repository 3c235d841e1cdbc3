package grade

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
)

// Bounds on the work the grader does itself on what graded code printed,
// and on what it reports. Graded code controls its output: unbounded, a
// few MiB of crafted lines would make diagnosis take hours and the grade
// tens of MiB.
const (
	// DiagnoseLimit is how long diagnosing one lab's output may take.
	DiagnoseLimit = 10 * time.Second
	// Diagnosis reads at most this many events and bytes of output: the
	// first and the last half of each, with a line saying how much was
	// left out in between. It keeps the cost of the classifier, whose
	// worst case grows with the square of its input, to well under a
	// second.
	maxDiagEvents = 10000
	maxDiagBytes  = 1 << 20
	maxDiagLine   = 4 << 10 // bytes of one line of output
	maxBuildBytes = 64 << 10
	// What a lab's grade may hold.
	maxFindings  = 20
	maxSites     = 10
	maxEvidence  = 4 << 10
	maxMultiLine = 2 << 10 // an explanation
	maxOneLine   = 300     // a reason, summary, file name, warning
)

// bounded is a diagnosis within the bounds, and what the bounds left out.
type bounded struct {
	lab   catalog.Lab
	notes []string
}

// diagnose classifies a run of the lab's tests within the bounds. The
// tests' outcomes are read from every event, by a single pass; only the
// findings, which are advisory, come from a capped input.
func (b *bounded) diagnose(in diagnose.Run) diagnose.Result {
	tests := testsOf(in.Events, b.lab.Tests)
	var left int
	in.Events, left = capEvents(in.Events)
	if left > 0 {
		b.notes = append(b.notes, fmt.Sprintf("the test output was too long to diagnose in full: %d events in the middle were left out", left))
	}
	if len(in.Build) > maxBuildBytes {
		in.Build = in.Build[:maxBuildBytes]
		b.notes = append(b.notes, fmt.Sprintf("the build output was cut to %d KiB for diagnosis", maxBuildBytes>>10))
	}
	done := make(chan diagnose.Result, 1)
	// Diagnose is a pure function and cannot be stopped: on a timeout it
	// is left to finish in the background, on an input capped as above.
	f := classify
	go func() { done <- f(in) }()
	t := time.NewTimer(DiagnoseLimit)
	defer t.Stop()
	select {
	case r := <-done:
		r.Tests = tests
		return capResult(r)
	case <-t.C:
		b.notes = append(b.notes, fmt.Sprintf("diagnosing the test output took longer than %s", DiagnoseLimit))
		return diagnose.Result{Tests: tests, Findings: []diagnose.Finding{{
			Kind: catalog.WrongResult, Title: "not diagnosed", Count: 1,
			Summary:     fmt.Sprintf("the test output could not be checked within %s", DiagnoseLimit),
			Explanation: "The tests printed so much, or such output, that the grader could not read it in time. Print less.",
		}}}
	}
}

// classify is diagnose.Diagnose; a test replaces it with a slow one.
var classify = diagnose.Diagnose

// testsOf reads the outcome of each of the lab's top-level tests from
// the events: the last "run" starts it, the next pass, fail or skip ends
// it. Events of any other test are ignored.
func testsOf(events []diagnose.Event, want []string) []diagnose.TestResult {
	var out []diagnose.TestResult
	index := map[string]int{}
	for _, e := range events {
		if e.Test == "" || !slices.Contains(want, e.Test) {
			continue
		}
		i, seen := index[e.Test]
		switch e.Action {
		case "run":
			if !seen {
				i = len(out)
				index[e.Test] = i
				out = append(out, diagnose.TestResult{Name: e.Test})
			}
			out[i].Status, out[i].Elapsed = diagnose.Unfinished, 0
		case "pass", "fail", "skip":
			if seen {
				out[i].Status = diagnose.TestStatus(e.Action)
				out[i].Elapsed = time.Duration(e.Elapsed * float64(time.Second))
			}
		}
	}
	return out
}

// capEvents keeps the first and last events within maxDiagEvents and
// maxDiagBytes, cuts long lines, and returns how many events it left out.
func capEvents(events []diagnose.Event) ([]diagnose.Event, int) {
	cut := func(e diagnose.Event) diagnose.Event {
		if len(e.Output) > maxDiagLine {
			e.Output = clip(e.Output, maxDiagLine) + "\n"
		}
		return e
	}
	size := func(e diagnose.Event) int { return min(len(e.Output), maxDiagLine) + 64 }
	total := 0
	for _, e := range events {
		total += size(e)
	}
	if len(events) <= maxDiagEvents && total <= maxDiagBytes {
		out := make([]diagnose.Event, len(events))
		for i, e := range events {
			out[i] = cut(e)
		}
		return out, 0
	}
	var head []diagnose.Event
	bytes := 0
	for _, e := range events {
		if len(head) >= maxDiagEvents/2 || bytes+size(e) > maxDiagBytes/2 {
			break
		}
		head = append(head, cut(e))
		bytes += size(e)
	}
	var tail []diagnose.Event
	bytes = 0
	for i := len(events) - 1; i >= len(head); i-- {
		e := events[i]
		if len(tail) >= maxDiagEvents/2 || bytes+size(e) > maxDiagBytes/2 {
			break
		}
		tail = append(tail, cut(e))
		bytes += size(e)
	}
	slices.Reverse(tail)
	left := len(events) - len(head) - len(tail)
	gap := diagnose.Event{Action: "output", Output: fmt.Sprintf("[racelab grader: %d events of output left out]\n", left)}
	return append(append(head, gap), tail...), left
}

// capResult bounds the findings of a diagnosis and makes their text safe
// to print.
func capResult(r diagnose.Result) diagnose.Result {
	if len(r.Findings) > maxFindings {
		n := len(r.Findings) - maxFindings
		r.Findings = append(r.Findings[:maxFindings:maxFindings], diagnose.Finding{
			Kind: r.Findings[maxFindings].Kind, Title: "more findings", Count: n,
			Summary: fmt.Sprintf("and %d more findings, left out", n),
		})
	}
	out := make([]diagnose.Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.Test = oneLine(f.Test)
		f.Title = oneLine(f.Title)
		f.File = oneLine(f.File)
		f.Summary = oneLine(f.Summary)
		f.Explanation = multiLine(f.Explanation, maxMultiLine)
		f.Evidence = multiLine(f.Evidence, maxEvidence)
		if len(f.Sites) > maxSites {
			f.Sites = f.Sites[:maxSites]
		}
		f.Sites = slices.Clone(f.Sites)
		for j, s := range f.Sites {
			s.Role, s.File, s.Func, s.Code = oneLine(s.Role), oneLine(s.File), oneLine(s.Func), oneLine(s.Code)
			f.Sites[j] = s
		}
		out[i] = f
	}
	r.Findings = out
	return r
}

// oneLine makes text that came from a submission fit on one line of a
// report: escaped (see escape) and at most maxOneLine bytes.
func oneLine(s string) string { return clip(escape(s, ""), maxOneLine) }

// multiLine is oneLine for text whose line breaks and tabs mean something.
func multiLine(s string, max int) string { return clip(escape(s, "\n\t"), max) }

// escape writes control characters (C0, DEL, C1), Unicode format
// characters (among them the bidirectional overrides and isolates that
// reorder text on screen), line and paragraph separators, and invalid
// UTF-8 as Go escapes (\x1b, \n, \u202e), except the characters in keep.
// No byte of the result can move a terminal's cursor, change its colours,
// erase a line or start a new one. Backslashes are left alone, so
// escaping twice changes nothing.
func escape(s, keep string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strings.ContainsRune(keep, r):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) || r == utf8.RuneError:
			if r > 0xffff {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// clip cuts s to at most max bytes, on a character boundary, marking the
// cut with "…".
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
