package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/report"
)

// --- list -----------------------------------------------------------------

type listOptions struct {
	json    bool
	noColor bool
}

func (o *listOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.BoolVar(&o.json, "json", false, "print the catalog and progress as JSON")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour (also: NO_COLOR=1)")
	return fs
}

// Validate has nothing to check; it keeps every command's shape the same.
func (o *listOptions) Validate() error { return nil }

type listEntry struct {
	Order      int      `json:"order"`
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Block      string   `json:"block"`
	Difficulty int      `json:"difficulty"`
	Minutes    int      `json:"minutes"`
	Pitfall    string   `json:"pitfall"`
	Python     string   `json:"python"`
	Kinds      []string `json:"kinds"`
	Files      []string `json:"files"`
	Status     string   `json:"status"` // fixed, broken, changed, unchecked, error
	Kind       string   `json:"kind,omitempty"`
	Checked    string   `json:"checked,omitempty"` // when the last verdict was reached
	Done       string   `json:"done,omitempty"`    // when the lab first passed
	Error      string   `json:"error,omitempty"`
}

// listDoc is list's JSON document.
type listDoc struct {
	Done  int         `json:"done"`
	Total int         `json:"total"`
	Next  string      `json:"next,omitempty"`
	Labs  []listEntry `json:"labs"`
}

func runList(_ context.Context, env Env, args []string) error {
	o := &listOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("list takes no arguments (got %q); `go run ./checker run LAB` runs a lab", strings.Join(pos, " "))
	}
	root, err := engine.FindRoot(env.Dir)
	if err != nil {
		return err
	}
	p := loadProgress(root)
	doc := listDoc{Total: len(env.Catalog), Labs: []listEntry{}}
	for i, l := range env.Catalog {
		e := listEntry{Order: i + 1, ID: l.ID, Title: l.Title, Block: string(l.Block), Difficulty: l.Difficulty,
			Minutes: l.Minutes, Pitfall: l.Pitfall, Python: l.Python, Files: l.Files, Status: "unchecked"}
		for _, k := range l.Kinds {
			e.Kinds = append(e.Kinds, string(k))
		}
		if l.Err != nil {
			e.Status, e.Error = "error", l.Err.Error()
		} else if r, ok := p.Results[l.ID]; ok {
			e.Checked = r.When.UTC().Format(time.RFC3339)
			if r.Hash == labHash(root, env.Catalog, l.ID) {
				e.Status, e.Kind = r.Status, r.Kind
			} else {
				e.Status = "changed"
			}
		}
		if t, ok := p.Done[l.ID]; ok {
			e.Done = t.UTC().Format(time.RFC3339)
		}
		if e.Status == string(engine.Fixed) {
			doc.Done++
		} else if doc.Next == "" {
			doc.Next = l.ID
		}
		doc.Labs = append(doc.Labs, e)
	}
	if o.json {
		return report.JSON(env.Stdout, doc)
	}
	s := styleFor(env.Stdout, o.noColor)
	w := env.Stdout
	width := report.Width(w)
	fmt.Fprintf(w, "%s %s\n", s.Bold(fmt.Sprintf("%d of %d labs done", doc.Done, doc.Total)), progressBar(doc.Done, doc.Total, 30))
	if doc.Next != "" {
		next, _ := env.Catalog.Lookup(doc.Next)
		fmt.Fprintf(w, "Next: %s — %s\n", s.Bold(next.ID), next.Title)
	}
	idw := len("LAB")
	for _, e := range doc.Labs {
		idw = max(idw, len(e.ID))
	}
	fmt.Fprintf(w, "\n%s\n", s.Bold(fmt.Sprintf("%3s  %-*s  %-4s %4s  %-22s  %s", "#", idw, "LAB", "DIFF", "MIN", "STATUS", "WHAT BREAKS")))
	block := ""
	for _, e := range doc.Labs {
		if e.Block != block {
			block = e.Block
			fmt.Fprintf(w, "%s\n", s.Dim("── "+block+" "+strings.Repeat("─", max(0, min(width, 80)-len(block)-4))))
		}
		status := ""
		switch e.Status {
		case "fixed":
			status = "done"
			if e.Done != "" {
				status += " " + e.Done[:10]
			}
			status = s.Green(fmt.Sprintf("%-22s", status))
		case "broken":
			status = s.Red(fmt.Sprintf("%-22s", "broken: "+e.Kind))
		case "changed":
			status = s.Yellow(fmt.Sprintf("%-22s", "edited, not checked"))
		case "error":
			status = s.Yellow(fmt.Sprintf("%-22s", "error: see run"))
		default:
			status = s.Dim(fmt.Sprintf("%-22s", "not checked yet"))
		}
		what := e.Pitfall
		if room := width - (3 + 2 + idw + 2 + 4 + 1 + 4 + 2 + 22 + 2); len([]rune(what)) > room && room > 10 {
			what = string([]rune(what)[:room-1]) + "…"
		}
		fmt.Fprintf(w, "%3d  %-*s  %s %4d  %s  %s\n", e.Order, idw, e.ID, catalog.Stars(e.Difficulty), e.Minutes, status, what)
	}
	fmt.Fprintf(w, "\n%s\n", s.Dim("Status is each lab's last verdict for its code as it is now; `go run ./checker` checks them all, `go run ./checker watch` takes you through them."))
	return nil
}

// progressBar draws done of total as a bar of width cells.
func progressBar(done, total, width int) string {
	if total == 0 {
		return ""
	}
	full := done * width / total
	return fmt.Sprintf("[%s%s] %d%%", strings.Repeat("█", full), strings.Repeat("░", width-full), done*100/total)
}

// --- hint -------------------------------------------------------------------

type hintOptions struct {
	all, reset, noColor bool
}

func (o *hintOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("hint", flag.ContinueOnError)
	fs.BoolVar(&o.all, "all", false, "show every hint at once")
	fs.BoolVar(&o.reset, "reset", false, "forget which hints were shown")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour (also: NO_COLOR=1)")
	return fs
}

// Validate rejects contradictory flags.
func (o *hintOptions) Validate() error {
	if o.all && o.reset {
		return usagef("-all and -reset do not go together")
	}
	return nil
}

func runHint(_ context.Context, env Env, args []string) error {
	o := &hintOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name one lab, for example `go run ./checker hint %s`", env.Catalog[0].ID)
	}
	labs, err := selectLabs(env.Catalog, pos)
	if err != nil {
		return err
	}
	l := labs[0]
	if len(l.Hints) == 0 {
		return fmt.Errorf("%s has no hints to show: %v", l.ID, l.Err)
	}
	root, err := engine.FindRoot(env.Dir)
	if err != nil {
		return err
	}
	w := env.Stdout
	if o.reset {
		if err := updateProgress(root, func(p *progress) { delete(p.Hints, l.ID) }); err != nil {
			return fmt.Errorf("save hint progress: %w", err)
		}
		fmt.Fprintf(w, "Hints for %s are hidden again.\n", l.ID)
		return nil
	}
	shown := 0
	if err := updateProgress(root, func(p *progress) {
		shown = min(p.Hints[l.ID]+1, len(l.Hints))
		if o.all {
			shown = len(l.Hints)
		}
		p.Hints[l.ID] = shown
	}); err != nil {
		return fmt.Errorf("save hint progress: %w", err)
	}
	writeHints(w, styleFor(w, o.noColor), report.Width(w), l, shown)
	if shown < len(l.Hints) {
		fmt.Fprintf(w, "\n%s\n", styleFor(w, o.noColor).Dim(fmt.Sprintf("Run `go run ./checker hint %s` again for the next hint.", l.ID)))
	} else {
		fmt.Fprintf(w, "\n%s\n", styleFor(w, o.noColor).Dim("That was the last hint. `go run ./checker run "+l.ID+"` shows what is still wrong."))
	}
	return nil
}

// writeHints writes the first shown hints of l, wrapped to width.
func writeHints(w io.Writer, s report.Style, width int, l catalog.Lab, shown int) {
	fmt.Fprintf(w, "%s — %s\n", s.Bold(l.ID), l.Title)
	for i := 0; i < shown && i < len(l.Hints); i++ {
		fmt.Fprintf(w, "\n%s\n", s.Bold(fmt.Sprintf("Hint %d of %d:", i+1, len(l.Hints))))
		for _, line := range report.Wrap(l.Hints[i], width-2) {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// --- reset -------------------------------------------------------------------

type resetOptions struct{}

func (o *resetOptions) flags() *flag.FlagSet { return flag.NewFlagSet("reset", flag.ContinueOnError) }

// Validate has nothing to check.
func (o *resetOptions) Validate() error { return nil }

func runReset(ctx context.Context, env Env, args []string) error {
	o := &resetOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name one lab to restore as shipped, for example `go run ./checker reset %s`", env.Catalog[0].ID)
	}
	labs, err := selectLabs(env.Catalog, pos)
	if err != nil {
		return err
	}
	root, err := engine.FindRoot(env.Dir)
	if err != nil {
		return err
	}
	backup, err := resetLab(ctx, root, labs[0], time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s is as shipped again. Your version is kept in %s\n", labs[0].Dir(), relTo(env.Dir, backup))
	return nil
}

// resetLab restores the lab's folder as committed in git, after copying
// every file that differs (or that git does not know) to a backup folder,
// whose path it returns. It refuses a lab with no changes.
func resetLab(ctx context.Context, root string, l catalog.Lab, now time.Time) (string, error) {
	git := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("git %s: %v %s", args[0], err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
	if _, err := exec.LookPath("git"); err != nil {
		return "", fmt.Errorf("reset needs git to know what the lab looked like as shipped, and git is not installed")
	}
	if _, err := git("rev-parse", "--verify", "HEAD"); err != nil {
		return "", fmt.Errorf("reset needs a git clone of Racelab (this copy is not one): restore %s from a fresh download instead", l.Dir())
	}
	out, err := git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", l.Dir())
	if err != nil {
		return "", err
	}
	var changed []string
	for _, rec := range strings.Split(string(out), "\x00") {
		if len(rec) > 3 {
			changed = append(changed, rec[3:])
		}
	}
	if len(changed) == 0 {
		return "", fmt.Errorf("%s has no changes: it is as shipped already", l.Dir())
	}
	backup := filepath.Join(root, ".racelab", "backup", l.ID+"-"+now.Format("20060102-150405"))
	for _, rel := range changed {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			continue // deleted: nothing of the learner's to keep
		}
		dst := filepath.Join(backup, strings.TrimPrefix(rel, l.Dir()+"/"))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return "", fmt.Errorf("back up %s: %w (nothing was reset)", rel, err)
		}
	}
	if _, err := git("checkout", "HEAD", "--", l.Dir()); err != nil {
		return "", fmt.Errorf("%w (your version is kept in %s)", err, backup)
	}
	if _, err := git("clean", "-fq", "--", l.Dir()); err != nil {
		return "", fmt.Errorf("%w (your version is kept in %s)", err, backup)
	}
	return backup, nil
}

// --- solution ----------------------------------------------------------------

type solutionOptions struct {
	force   bool
	noColor bool
}

func (o *solutionOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("solution", flag.ContinueOnError)
	fs.BoolVar(&o.force, "force", false, "show the solution even though the lab does not pass yet")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour (also: NO_COLOR=1)")
	return fs
}

// Validate has nothing to check.
func (o *solutionOptions) Validate() error { return nil }

func runSolution(_ context.Context, env Env, args []string) error {
	o := &solutionOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name one lab, for example `go run ./checker solution %s`", env.Catalog[0].ID)
	}
	labs, err := selectLabs(env.Catalog, pos)
	if err != nil {
		return err
	}
	l := labs[0]
	root, err := engine.FindRoot(env.Dir)
	if err != nil {
		return err
	}
	if !o.force && !loadProgress(root).isDone(root, env.Catalog, l.ID) {
		return usagef("%s does not pass yet (or was edited since it passed): the solution is shown once `go run ./checker run %s` says fixed; add --force to see it now", l.ID, l.ID)
	}
	writeSolution(env.Stdout, styleFor(env.Stdout, o.noColor), root, env.Dir, l)
	return nil
}

// writeSolution shows how the reference solution differs from the
// learner's editable files.
func writeSolution(w io.Writer, s report.Style, root, cwd string, l catalog.Lab) {
	fmt.Fprintf(w, "%s\n", s.Bold("The reference solution of "+l.ID+", as a diff from your version:"))
	for _, f := range l.Files {
		mine, _ := os.ReadFile(filepath.Join(root, l.Dir(), f))
		ref, _ := os.ReadFile(filepath.Join(root, l.SolutionDir(), f))
		d := unifiedDiff(relTo(cwd, filepath.Join(root, l.Dir(), f)), relTo(cwd, filepath.Join(root, l.SolutionDir(), f)), string(mine), string(ref))
		if d == "" {
			fmt.Fprintf(w, "\n%s is the same as the solution.\n", f)
			continue
		}
		fmt.Fprintln(w)
		for _, line := range strings.SplitAfter(strings.TrimSuffix(d, "\n"), "\n") {
			line = strings.TrimSuffix(line, "\n")
			switch {
			case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
				fmt.Fprintln(w, s.Bold(line))
			case strings.HasPrefix(line, "+"):
				fmt.Fprintln(w, s.Green(line))
			case strings.HasPrefix(line, "-"):
				fmt.Fprintln(w, s.Red(line))
			case strings.HasPrefix(line, "@@"):
				fmt.Fprintln(w, s.Dim(line))
			default:
				fmt.Fprintln(w, line)
			}
		}
	}
	fmt.Fprintf(w, "\n%s\n", s.Dim("Other correct fixes are in "+l.SolutionDir()+"/"+catalog.VariantsDir+" (each with a `want` file that says pass)."))
}

// relTo is path relative to dir when that is shorter, so terminals and
// editors can open it with a click from where the command was run.
func relTo(dir, path string) string {
	rel, err := filepath.Rel(dir, path)
	if err != nil || strings.HasPrefix(rel, "../../..") {
		return path
	}
	return rel
}

// unifiedDiff is a unified diff of a and b with three lines of context,
// or "" when they are equal. It uses the longest common subsequence of
// lines, which is plenty for files of a few hundred lines.
func unifiedDiff(nameA, nameB, a, b string) string {
	if a == b {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte // ' ', '-', '+'
		text string
		i, j int // line numbers (0-based) in a and b before this op
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, op{' ', x[i], i, j})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', x[i], i, j})
			i++
		default:
			ops = append(ops, op{'+', y[j], i, j})
			j++
		}
	}
	var b2 strings.Builder
	fmt.Fprintf(&b2, "--- %s\n+++ %s\n", nameA, nameB)
	const ctx = 3
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		start := max(0, k-ctx)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end = min(len(ops), end+ctx)
				break
			}
			end = run
		}
		hunk := ops[start:end]
		na, nb := 0, 0
		for _, o := range hunk {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&b2, "@@ -%d,%d +%d,%d @@\n", hunk[0].i+1, na, hunk[0].j+1, nb)
		for _, o := range hunk {
			fmt.Fprintf(&b2, "%c%s\n", o.kind, o.text)
		}
		k = end
	}
	return b2.String()
}

func splitLines(s string) []string {
	lines := strings.Split(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return slices.Clip(lines)
}
