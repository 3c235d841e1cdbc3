package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/report"
	"github.com/racelab/racelab/checker/internal/runner"
)

// --- list -----------------------------------------------------------------

type listOptions struct {
	json    bool
	noColor bool
}

func (o *listOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.BoolVar(&o.json, "json", false, "print the catalog as JSON")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour")
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
	Python     string   `json:"python"`
	Kinds      []string `json:"kinds"`
	Files      []string `json:"files"`
	Status     string   `json:"status"` // fixed, broken, changed, unchecked
	Kind       string   `json:"kind,omitempty"`
	Checked    string   `json:"checked,omitempty"`
}

func runList(_ context.Context, env Env, args []string) error {
	o := &listOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("list takes no arguments (got %q)", strings.Join(pos, " "))
	}
	root, err := engine.FindRoot(env.Dir)
	if err != nil {
		return err
	}
	cache := engine.CacheDir(root)
	st := loadState(cache)
	var entries []listEntry
	for i, l := range env.Catalog {
		e := listEntry{Order: i + 1, ID: l.ID, Title: l.Title, Block: string(l.Block), Difficulty: l.Difficulty,
			Minutes: l.Minutes, Python: l.Python, Files: l.Files, Status: "unchecked"}
		for _, k := range l.Kinds {
			e.Kinds = append(e.Kinds, string(k))
		}
		if r, ok := st.Results[l.ID]; ok {
			e.Checked = r.When.UTC().Format(time.RFC3339)
			if r.Hash == labHash(root, env.Catalog, l.ID) {
				e.Status, e.Kind = r.Status, r.Kind
			} else {
				e.Status = "changed"
			}
		}
		entries = append(entries, e)
	}
	if o.json {
		return report.JSON(env.Stdout, entries)
	}
	s := styleFor(env.Stdout, o.noColor)
	w := env.Stdout
	fmt.Fprintf(w, "%s\n", s.Bold(fmt.Sprintf("%-3s %-12s %-16s %-10s %-4s %s", "#", "LAB", "BLOCK", "DIFFICULTY", "MIN", "STATUS")))
	block := ""
	for i, e := range entries {
		if e.Block != block && i > 0 {
			fmt.Fprintln(w)
		}
		block = e.Block
		status := ""
		switch e.Status {
		case "fixed":
			status = s.Green("fixed")
		case "broken":
			status = s.Red("broken: " + e.Kind)
		case "changed":
			status = s.Yellow("edited since the last check")
		default:
			status = s.Dim("not checked yet")
		}
		fmt.Fprintf(w, "%-3d %-12s %-16s %-10s %-4d %s\n", e.Order, e.ID, e.Block, stars(e.Difficulty), e.Minutes, status)
		fmt.Fprintf(w, "    %s\n", s.Dim(fmt.Sprintf("%s · Python: %s · edit %s", e.Title, e.Python, strings.Join(e.Files, ", "))))
	}
	fmt.Fprintf(w, "\n%s\n", s.Dim("Status is the last verdict of `go run ./checker` for the code as it is now."))
	return nil
}

func stars(n int) string { return strings.Repeat("●", n) + strings.Repeat("○", 3-n) }

// --- hint -------------------------------------------------------------------

type hintOptions struct {
	all, reset bool
}

func (o *hintOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("hint", flag.ContinueOnError)
	fs.BoolVar(&o.all, "all", false, "show every hint at once")
	fs.BoolVar(&o.reset, "reset", false, "forget which hints were shown")
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
	root, err := engine.FindRoot(env.Dir)
	if err != nil {
		return err
	}
	cache := engine.CacheDir(root)
	st := loadState(cache)
	w := env.Stdout
	if o.reset {
		delete(st.Hints, l.ID)
		if err := saveState(cache, st); err != nil {
			return fmt.Errorf("save hint progress: %w", err)
		}
		fmt.Fprintf(w, "Hints for %s are hidden again.\n", l.ID)
		return nil
	}
	shown := st.Hints[l.ID] + 1
	if o.all || shown > len(l.Hints) {
		shown = len(l.Hints)
	}
	st.Hints[l.ID] = shown
	if err := saveState(cache, st); err != nil {
		return fmt.Errorf("save hint progress: %w", err)
	}
	s := report.StyleFor(w)
	fmt.Fprintf(w, "%s — %s\n", s.Bold(l.ID), l.Title)
	for i := 0; i < shown; i++ {
		fmt.Fprintf(w, "\n%s %s\n", s.Bold(fmt.Sprintf("Hint %d of %d:", i+1, len(l.Hints))), l.Hints[i])
	}
	if shown < len(l.Hints) {
		fmt.Fprintf(w, "\n%s\n", s.Dim(fmt.Sprintf("Run `go run ./checker hint %s` again for the next hint.", l.ID)))
	} else {
		fmt.Fprintf(w, "\n%s\n", s.Dim("That was the last hint. `go run ./checker run "+l.ID+"` shows what is still wrong."))
	}
	return nil
}

// --- watch ------------------------------------------------------------------

type watchOptions struct {
	interval time.Duration
	timeout  time.Duration
	noColor  bool
	once     bool
}

func (o *watchOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.DurationVar(&o.interval, "interval", 100*time.Millisecond, "how often to look for saved changes")
	fs.DurationVar(&o.timeout, "timeout", runner.DefaultTime, "time limit for the lab's tests")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour")
	fs.BoolVar(&o.once, "exit-when-fixed", false, "stop watching once the lab is fixed")
	return fs
}

// Validate checks the options' values.
func (o *watchOptions) Validate() error {
	if o.interval < 10*time.Millisecond || o.interval > 10*time.Second {
		return usagef("-interval must be between 10ms and 10s")
	}
	if o.timeout < time.Second {
		return usagef("-timeout must be at least 1s")
	}
	return nil
}

func runWatch(ctx context.Context, env Env, args []string) error {
	o := &watchOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("watch one lab at a time")
	}
	ws, err := openWorkspace(ctx, env)
	if err != nil {
		return err
	}
	var lab catalog.Lab
	if len(pos) == 1 {
		labs, err := selectLabs(env.Catalog, pos)
		if err != nil {
			return err
		}
		lab = labs[0]
	} else if next := nextLab(ws, nil); next != nil {
		lab = *next
	} else {
		fmt.Fprintln(env.Stdout, "Every lab is fixed. Name one to watch it anyway.")
		return nil
	}
	ws.engine.Limits = runner.Limits{Time: o.timeout}
	s := styleFor(env.Stdout, o.noColor)
	dir := filepath.Join(ws.root, lab.Dir())
	job := engine.Job{Lab: lab, Name: lab.Dir(), Dir: lab.Dir()}
	last := snapshot(dir)
	changed := time.Now()
	for {
		outcomes, err := ws.engine.Run(ctx, []engine.Job{job})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		saveResults(ws, outcomes)
		if isTerminal(env.Stdout) {
			fmt.Fprint(env.Stdout, "\x1b[H\x1b[2J")
		}
		report.Details(env.Stdout, s, outcomes[0], false)
		fmt.Fprintf(env.Stdout, "\n%s\n", s.Dim(fmt.Sprintf("verdict %s after the change · watching %s · Ctrl-C to stop",
			time.Since(changed).Round(10*time.Millisecond), lab.Dir())))
		if o.once && outcomes[0].Status == engine.Fixed {
			return nil
		}
		// Wait for the next saved change.
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(o.interval):
			}
			if cur := snapshot(dir); cur != last {
				last, changed = cur, time.Now()
				break
			}
		}
	}
}

// snapshot fingerprints the .go files of dir by name, size and mtime: cheap
// enough to poll many times a second, with no dependency on inotify.
func snapshot(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s|%d|%d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String()
}
