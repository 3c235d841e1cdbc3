package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/grade"
)

// A labCheck is what the checker found about a lab's files before running
// it, applying what the grader applies, so that "fixed" here means what it
// means under grading.
type labCheck struct {
	notes    []string          // files the run did not use as they are
	rejected []grade.Rejection // why grading would give no credit
	missing  []string          // editable files that are gone: the lab cannot run
}

// prepareLabs makes each lab's run agree with grading: the tests and
// support files run as shipped (the solution's identical copies) even if
// the learner edited or deleted them, Go files the lab does not have are
// left out, and the grading policy is applied to the editable files. It
// writes the replacements as a build overlay at overlayPath and returns
// whether one was needed.
func prepareLabs(root string, labs []catalog.Lab, overlayPath string) (map[string]*labCheck, bool, error) {
	checks := map[string]*labCheck{}
	replace := map[string]string{}
	for _, l := range labs {
		if l.Err != nil {
			continue
		}
		c := &labCheck{}
		checks[l.ID] = c
		labDir, solDir := filepath.Join(root, l.Dir()), filepath.Join(root, l.SolutionDir())
		pristine := goFiles(solDir)
		if pristine == nil {
			continue // no solution to compare with: nothing to restore from
		}
		for _, f := range pristine {
			if slices.Contains(l.Files, f) {
				continue
			}
			rel := l.Dir() + "/" + f
			want, err := os.ReadFile(filepath.Join(solDir, f))
			if err != nil {
				continue
			}
			got, err := os.ReadFile(filepath.Join(labDir, f))
			switch {
			case err != nil:
				c.notes = append(c.notes, fmt.Sprintf("%s is missing; the checker ran the original, as the grader does: restore it with `git checkout -- %s`", rel, rel))
			case !bytes.Equal(got, want):
				c.notes = append(c.notes, fmt.Sprintf("%s was changed; the checker ran the original, as the grader does: restore it with `git checkout -- %s`", rel, rel))
			default:
				continue
			}
			replace[filepath.Join(labDir, f)] = filepath.Join(solDir, f)
		}
		for _, f := range goFiles(labDir) {
			if !slices.Contains(pristine, f) && !slices.Contains(l.Files, f) {
				rel := l.Dir() + "/" + f
				c.notes = append(c.notes, fmt.Sprintf("%s is not part of the lab; the grader ignores it, so the checker left it out: move what you need into %s", rel, strings.Join(l.Files, ", ")))
				replace[filepath.Join(labDir, f)] = ""
			}
		}
		for _, f := range l.Files {
			rel := l.Dir() + "/" + f
			data, err := os.ReadFile(filepath.Join(labDir, f))
			if err != nil {
				c.missing = append(c.missing, fmt.Sprintf("%s is missing: restore it with `git checkout -- %s` (or `git checkout -- %s` for the whole lab)", rel, rel, l.Dir()))
				continue
			}
			// The solution's copy carries the shipped file's Go version pin,
			// the one constraint the policy allows.
			pin, _ := os.ReadFile(filepath.Join(solDir, f))
			c.rejected = append(c.rejected, grade.CheckSource(l, rel, data, pin)...)
		}
	}
	if len(replace) == 0 {
		return checks, false, nil
	}
	data, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(overlayPath), 0o755); err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(overlayPath, data, 0o644); err != nil {
		return nil, false, err
	}
	return checks, true, nil
}

// goFiles lists the .go files of dir, or nil when it cannot be read.
func goFiles(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	files := []string{}
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".go") {
			files = append(files, e.Name())
		}
	}
	return files
}

// rejectionFindings turns grading rejections into findings, so a lab
// whose tests pass is still shown as not done, with the reason.
func rejectionFindings(rej []grade.Rejection) []diagnose.Finding {
	var out []diagnose.Finding
	for _, r := range rej {
		out = append(out, diagnose.Finding{
			Kind: catalog.Rejected, Title: "rejected by the grading policy", File: r.File,
			Summary: "grading would reject it: " + r.File + " " + strings.TrimPrefix(r.Reason, r.File+" "),
			Explanation: "The grader gives no credit for this lab as it is, even when its tests pass: " + r.Reason + ". " +
				"Graded code may import only the standard packages a fix needs (and what the lab's README allows), carries no compiler directives, and keeps the lab's files as they are.",
			Count: 1,
		})
	}
	return out
}
