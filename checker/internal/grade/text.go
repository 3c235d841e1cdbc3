package grade

import (
	"fmt"
	"io"
	"time"

	"github.com/racelab/racelab/checker/internal/report"
)

// WriteText writes the grade for a person at a terminal: one line per
// lab, the total, and the warnings. Every text that came from the
// submission (file names, the compiler's and the parser's messages, what
// the tests printed) is escaped, so that nothing in it can move the
// cursor, recolour, erase or add a line: the only control characters
// written are the line breaks between lines and, with s.Color, the
// report's own colours.
func WriteText(w io.Writer, s report.Style, res Result) error {
	ew := &errWriter{w: w}
	got, most := res.Points()
	ew.printf("%s %s\n", s.Bold("submission"), oneLine(res.Submission))
	if res.Error != "" {
		ew.printf("%s %s\n", s.Yellow("cannot grade:"), oneLine(res.Error))
	}
	idw := len("LAB")
	for _, l := range res.Labs {
		idw = max(idw, len(l.Lab.ID))
	}
	ew.printf("%s\n", s.Bold(fmt.Sprintf("%-*s  %-5s  %-7s  %s", idw, "LAB", "GRADE", "POINTS", "WHY")))
	for _, l := range res.Labs {
		g := fmt.Sprintf("%-5s", l.Status)
		switch l.Status {
		case Pass:
			g = s.Green(g)
		case Fail:
			g = s.Red(g)
		default:
			g = s.Yellow(g)
		}
		ew.printf("%-*s  %s  %-7s  %s\n", idw, l.Lab.ID, g, fmt.Sprintf("%d/%d", l.Points, l.Lab.Points), oneLine(l.Reason))
		for _, r := range l.Rejected[min(1, len(l.Rejected)):] {
			ew.printf("%*s  also rejected: %s: %s\n", idw, "", oneLine(r.File), oneLine(r.Reason))
		}
		for _, n := range l.Notes {
			ew.printf("%*s  note: %s\n", idw, "", oneLine(n))
		}
	}
	ew.printf("\n%s %d/%d points · %s (bound %s)\n", s.Bold("total"), got, most,
		res.Duration.Round(100*time.Millisecond), res.Bound.Round(time.Second))
	if len(res.Warnings) > 0 {
		ew.printf("%s\n", s.Yellow("warnings:"))
		for _, warn := range res.Warnings {
			ew.printf("  %s\n", oneLine(warn))
		}
	}
	if res.Scratch != "" {
		ew.printf("scratch kept at %s\n", oneLine(res.Scratch))
	}
	return ew.err
}

// Printable escapes text for a terminal, as WriteText does: for messages
// about a submission printed elsewhere.
func Printable(s string) string { return escape(s, "") }

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
