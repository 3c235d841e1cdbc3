// Package report renders the engine's outcomes: a table and details for a
// person at a terminal, a versioned JSON document for machines, and JUnit
// XML for CI dashboards. It decides nothing; it only formats.
package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/engine"
)

// Style says how to decorate text, and how to show paths.
type Style struct {
	Color bool
	// Dir, when set, shows a repository-relative path as the terminal
	// knows it: relative to the folder the command was run from, so a
	// click in a terminal or an editor opens it. The JSON document keeps
	// repository-relative paths.
	Dir func(repoRel string) string
}

// path shows a repository-relative path.
func (s Style) path(p string) string {
	if s.Dir == nil || p == "" {
		return p
	}
	return s.Dir(p)
}

// paths rewrites every mention of the lab's folder in text.
func (s Style) paths(text, labDir string) string {
	if s.Dir == nil || labDir == "" {
		return text
	}
	to := s.Dir(labDir)
	if to == labDir {
		return text
	}
	return strings.ReplaceAll(text, labDir+"/", strings.TrimSuffix(to, "/")+"/")
}

// StyleFor picks a style for w: colour only on a terminal, and never when
// NO_COLOR is set (https://no-color.org) or TERM is "dumb".
func StyleFor(w io.Writer) Style {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return Style{}
	}
	f, ok := w.(*os.File)
	if !ok {
		return Style{}
	}
	st, err := f.Stat()
	return Style{Color: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

func (s Style) wrap(code, text string) string {
	if !s.Color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// Bold, Dim, Red, Green and Yellow decorate text when colour is on.
func (s Style) Bold(t string) string   { return s.wrap("1", t) }
func (s Style) Dim(t string) string    { return s.wrap("2", t) }
func (s Style) Red(t string) string    { return s.wrap("31", t) }
func (s Style) Green(t string) string  { return s.wrap("32", t) }
func (s Style) Yellow(t string) string { return s.wrap("33", t) }

// StatusText is a lab's status as a person reads it: "fixed", "broken: race".
func StatusText(o engine.Outcome) string {
	switch o.Status {
	case engine.Broken:
		return "broken: " + string(o.Result.Kind())
	default:
		return string(o.Status)
	}
}

func (s Style) status(o engine.Outcome, width int) string {
	text := fmt.Sprintf("%-*s", width, StatusText(o))
	switch o.Status {
	case engine.Fixed:
		return s.Green(text)
	case engine.Broken:
		return s.Red(text)
	default:
		return s.Yellow(text)
	}
}

// OneLine explains an outcome in one line.
func OneLine(o engine.Outcome) string {
	switch o.Status {
	case engine.Fixed:
		line := fmt.Sprintf("all %d tests pass under -race", countTests(o))
		if len(o.Notes) > 0 {
			line += " (note: " + o.Notes[0] + ")"
		}
		return line
	case engine.Errored:
		return "could not run: " + firstLine(o.Err.Error())
	}
	if f, ok := o.Result.Primary(); ok {
		return f.Summary
	}
	return "failed"
}

func countTests(o engine.Outcome) int {
	n := 0
	for _, t := range o.Result.Tests {
		if t.Status == diagnose.Pass {
			n++
		}
	}
	return n
}

// Table writes one row per outcome, fitted to width (see [Width]) with the
// reason wrapped at words under its column, then the summary and what to
// do next.
func Table(w io.Writer, s Style, width int, outcomes []engine.Outcome, next *catalog.Lab) {
	idw, stw := len("LAB"), len("STATUS")
	for _, o := range outcomes {
		idw = max(idw, len(o.Job.Lab.ID))
		stw = max(stw, len(StatusText(o)))
	}
	why := max(30, width-idw-stw-4)
	fmt.Fprintf(w, "%s  %s  %s\n", s.Bold(fmt.Sprintf("%-*s", idw, "LAB")), s.Bold(fmt.Sprintf("%-*s", stw, "STATUS")), s.Bold("WHY"))
	for _, o := range outcomes {
		lines := wrapLines(Sanitize(OneLine(o)), why, 3)
		fmt.Fprintf(w, "%-*s  %s  %s\n", idw, o.Job.Lab.ID, s.status(o, stw), lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "%*s  %s\n", idw+stw+2, "", l)
		}
	}
	fixed := 0
	for _, o := range outcomes {
		if o.Status == engine.Fixed {
			fixed++
		}
	}
	fmt.Fprintf(w, "\n%s of %d labs fixed.\n", s.Bold(fmt.Sprint(fixed)), len(outcomes))
	if next != nil {
		// The line is wrapped as plain text, then the lab's id made bold.
		line := fmt.Sprintf("Next: %s — %s (%s, difficulty %d, about %d min)", next.ID, next.Title, next.Block, next.Difficulty, next.Minutes)
		for i, l := range Wrap(line, width-2) {
			if i == 0 {
				l = strings.Replace(l, next.ID, s.Bold(next.ID), 1)
			} else {
				l = "  " + l
			}
			fmt.Fprintln(w, l)
		}
		cmds := [][2]string{
			{"go run ./checker watch", "fix it with a verdict on every save"},
			{"go run ./checker run " + next.ID, "every finding in full"},
			{"go run ./checker hint " + next.ID, "a hint, one at a time"},
		}
		width := 0
		for _, c := range cmds {
			width = max(width, len(c[0]))
		}
		for _, c := range cmds {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c[0], c[1])
		}
	} else if fixed == len(outcomes) && len(outcomes) > 0 {
		fmt.Fprintln(w, s.Green("Every lab is fixed. Well done."))
	}
}

// Details writes everything known about one outcome: every finding with
// its explanation and evidence, and the tests' outcomes. verbose adds the
// raw output.
func Details(w io.Writer, s Style, o engine.Outcome, verbose bool) {
	l := o.Job.Lab
	fmt.Fprintf(w, "%s — %s\n", s.Bold(l.ID), l.Title)
	fmt.Fprintf(w, "%s\n", s.Dim(fmt.Sprintf("%s · %s · difficulty %d · about %d min · Python: %s", o.Job.Dir, l.Block, l.Difficulty, l.Minutes, l.Python)))
	fmt.Fprintf(w, "%s  %s\n", s.status(o, 0), s.Dim(o.Duration.Round(10*time.Millisecond).String()))
	if o.Status == engine.Errored {
		fmt.Fprintf(w, "\n%s\n", o.Err)
		return
	}
	for _, n := range o.Notes {
		fmt.Fprintf(w, "%s %s\n", s.Yellow("note:"), s.paths(Sanitize(n), o.Job.Dir))
	}
	for i, f := range o.Result.Findings {
		fmt.Fprintf(w, "\n%s %s", s.Bold(fmt.Sprintf("%d.", i+1)), s.Red(string(f.Kind)))
		if f.Test != "" {
			fmt.Fprintf(w, " in %s", f.Test)
		}
		if f.Count > 1 {
			fmt.Fprintf(w, s.Dim(" (reported %d times)"), f.Count)
		}
		fmt.Fprintf(w, "\n   %s\n", Sanitize(f.Summary))
		if f.File != "" {
			fmt.Fprintf(w, "   at %s\n", s.Bold(fmt.Sprintf("%s:%d", s.path(f.File), f.Line)))
		}
		fmt.Fprintf(w, "\n%s\n", indent(s.paths(Sanitize(f.Explanation), o.Job.Dir), "   "))
		if f.Evidence != "" {
			fmt.Fprintf(w, "\n   %s\n%s\n", s.Dim("evidence:"), s.Dim(indent(Sanitize(f.Evidence), "   | ")))
		}
	}
	if len(o.Result.Tests) > 0 {
		fmt.Fprintf(w, "\n%s\n", s.Bold("tests:"))
		for _, t := range o.Result.Tests {
			mark := s.Green("pass")
			switch t.Status {
			case diagnose.Fail:
				mark = s.Red("FAIL")
			case diagnose.Skip:
				mark = s.Dim("skip")
			case diagnose.Unfinished:
				mark = s.Yellow("did not finish")
				fmt.Fprintf(w, "   %s %s %s\n", mark, t.Name, s.Dim("cut short after "+t.Elapsed.Round(10*time.Millisecond).String()))
				continue
			}
			fmt.Fprintf(w, "   %-4s %s %s\n", mark, t.Name, s.Dim(t.Elapsed.Round(time.Millisecond).String()))
		}
	}
	if verbose {
		fmt.Fprintf(w, "\n%s\n%s\n", s.Bold("output:"), indent(Sanitize(strings.TrimRight(o.Output(), "\n")), "   "))
		if o.Run.Truncated {
			fmt.Fprintln(w, s.Dim("   (output truncated)"))
		}
	}
	if o.Status == engine.Broken {
		raw := s.path(o.Job.Dir)
		if !strings.HasPrefix(raw, ".") && !strings.HasPrefix(raw, "/") {
			raw = "./" + raw
		}
		fmt.Fprintf(w, "\n%s go run ./checker hint %s    %s go test -race %s\n", s.Dim("stuck?"), l.ID, s.Dim("raw output:"), raw)
	}
}

func indent(text, prefix string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		} else {
			lines[i] = strings.TrimRight(prefix, " ")
		}
	}
	return strings.Join(lines, "\n")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
